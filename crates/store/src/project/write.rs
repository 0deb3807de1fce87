//! Executing projections inside the writer's transaction: statements of the same text from many
//! documents become one multi-row `INSERT` (a few hundred binds each); anything else runs row by row.

use safemesh_doc::{Audience, AutoCommit, Header};
use sqlx::{Any, Transaction};

use super::bind::{Bind, bind};
use super::compute::{Projection, compute_projection};
use crate::error::Error;
use crate::sql::{MAX_BINDS, tuples};

/// Writes the rows of projections — one document's, or many distinct documents new to the store —
/// statements of the same text as one multi-row `INSERT` each (in chunks of at most
/// [`MAX_BINDS`] binds), in the order the texts first appear. Each document's statements
/// keep their order: a kind's statements always come in the same order, and different kinds write
/// different tables. A statement that is not a
/// single-tuple `INSERT … VALUES ($1, …, $n) …` (a `DELETE`) runs once per row, in its place.
pub(crate) async fn write_rows_many(
    tx: &mut Transaction<'static, Any>,
    projections: &[Projection],
    now: &str,
) -> Result<(), Error> {
    let mut groups: Vec<(&'static str, Vec<&[Bind]>)> = Vec::new();
    for p in projections {
        for (sql, binds) in &p.rows {
            match groups.iter_mut().find(|(s, _)| s == sql) {
                Some((_, rows)) => rows.push(binds),
                None => groups.push((sql, vec![binds])),
            }
        }
    }
    for (sql, rows) in groups {
        let width = rows[0].len();
        let per = (MAX_BINDS / width.max(1)).max(1);
        match (rows.len() > 1).then(|| values_tuple(sql, width)).flatten() {
            Some((head, tail)) => {
                for chunk in rows.chunks(per) {
                    let text = format!("{head}{}{tail}", tuples(chunk.len(), width));
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
                    for b in chunk.iter().flat_map(|r| r.iter()) {
                        q = bind(q, b, now);
                    }
                    q.execute(&mut **tx).await?;
                }
            }
            None => {
                for binds in rows {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for b in binds {
                        q = bind(q, b, now);
                    }
                    q.execute(&mut **tx).await?;
                }
            }
        }
    }
    Ok(())
}

/// Splits `INSERT … VALUES ($1, …, $width) tail` around its one tuple, when it is exactly that.
fn values_tuple(sql: &str, width: usize) -> Option<(&str, &str)> {
    let open = sql.find("VALUES (")? + "VALUES ".len();
    let close = open + sql[open..].find(')')?;
    let inside: String = sql[open + 1..close]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let expected: Vec<String> = (1..=width).map(|i| format!("${i}")).collect();
    (inside == expected.join(",")).then(|| (&sql[..open], &sql[close + 1..]))
}

/// Computes and writes the projection of `doc`; returns its audience.
pub(crate) async fn write_projection(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    header: &Header,
    doc: &AutoCommit,
    now: &str,
) -> Result<Audience, Error> {
    let p = compute_projection(id, header, doc)?;
    write_rows_many(tx, std::slice::from_ref(&p), now).await?;
    Ok(p.audience)
}

#[cfg(test)]
mod tests {
    use super::values_tuple;

    #[test]
    fn an_insert_of_one_full_tuple_splits_around_it() {
        let sql = "INSERT INTO t (a, b, c) VALUES ($1, $2,\n $3) ON CONFLICT (a) DO NOTHING";
        assert_eq!(
            values_tuple(sql, 3),
            Some((
                "INSERT INTO t (a, b, c) VALUES ",
                " ON CONFLICT (a) DO NOTHING"
            ))
        );
    }

    #[test]
    fn anything_else_runs_row_by_row() {
        // Fewer binds than the tuple names, a tuple out of order, a constant in it, no tuple at all.
        assert_eq!(values_tuple("INSERT INTO t VALUES ($1, $2, $3)", 2), None);
        assert_eq!(values_tuple("INSERT INTO t VALUES ($2, $1)", 2), None);
        assert_eq!(values_tuple("INSERT INTO t VALUES ($1, 0)", 1), None);
        assert_eq!(values_tuple("DELETE FROM t WHERE a = $1", 1), None);
    }
}
