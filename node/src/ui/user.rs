//! 登录者 — who is using the web UI: the caller the session's token resolves to, the session and its
//! CSRF token.

use crate::http::{ApiState, Caller};

/// Who is using the UI: put in the request's extensions by [`super::session::require`].
#[derive(Debug, Clone)]
pub struct UiUser {
    pub caller: Caller,
    pub session: String,
    /// This session's CSRF token, for the forms of the page.
    pub csrf: String,
}

impl UiUser {
    /// [`UiUser::actor`] for a form that writes: refused (403, the viewer's rule) unless this person
    /// may edit.
    pub fn editor(
        &self,
        st: &ApiState,
    ) -> Result<crate::records::Actor, crate::records::RecordError> {
        crate::http::check_role(self.caller.clone(), safemesh_store::TokenRole::Editor)?;
        Ok(self.actor(st))
    }

    /// The identity this person writes as: this office, this node's actor id, the token's name (as
    /// the API's `Editor::actor`).
    pub fn actor(&self, st: &ApiState) -> crate::records::Actor {
        crate::records::Actor {
            user: self.caller.name.clone(),
            ..st.actor.clone()
        }
    }
}
