//! 佐证材料 — evidence files attached to a record's event (整改前/整改后照片, 验收单, 报送材料, 快报):
//! what a document says of a file (its SHA-256, size, media type and name, never its bytes), the
//! types a node accepts, and how a file's type is told from its content (magic bytes), not its name.

use serde::{Deserialize, Serialize};

/// Longest file name kept, in characters.
pub const NAME_MAX: usize = 120;

/// Most files one event may carry.
pub const PER_EVENT_MAX: usize = 20;

/// 附件 — one file an event references, by content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    /// SHA-256 of the file's bytes, lower-case hex: the file's identity everywhere in the mesh.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// One of [`MEDIA_TYPES`], told from the content when uploaded.
    pub media_type: String,
    /// The name it was uploaded under (shown and offered on download; not trusted for its type).
    pub name: String,
}

impl Attachment {
    /// Checks the reference's form: a SHA-256 in hex, a size, a known type, a printable name. The
    /// reason names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let hex = self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err((
                "sha256",
                "须为 64 位小写十六进制 SHA-256 / must be a lower-case hex SHA-256".into(),
            ));
        }
        if self.size == 0 {
            return Err(("size", "文件为空 / empty file".into()));
        }
        if kind_of(&self.media_type).is_none() {
            return Err((
                "media_type",
                format!("不支持的类型 / unsupported type: {}", self.media_type),
            ));
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err((
                "name",
                format!("文件名须为 1–{NAME_MAX} 个字符 / name must be 1–{NAME_MAX} characters"),
            ));
        }
        if name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err((
                "name",
                "文件名不能含控制字符或路径分隔符 / name may not hold control characters or path separators".into(),
            ));
        }
        Ok(())
    }

    /// Whether it is an image a thumbnail can be made of.
    pub fn is_image(&self) -> bool {
        matches!(self.media_type.as_str(), JPEG | PNG)
    }
}

pub const JPEG: &str = "image/jpeg";
pub const PNG: &str = "image/png";
pub const PDF: &str = "application/pdf";
pub const OFD: &str = "application/ofd";
pub const DOC: &str = "application/msword";
pub const XLS: &str = "application/vnd.ms-excel";
pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The accepted types: media type → what a user calls it.
pub const MEDIA_TYPES: [(&str, &str); 8] = [
    (JPEG, "JPEG 图片"),
    (PNG, "PNG 图片"),
    (PDF, "PDF 文档"),
    (OFD, "OFD 版式文档"),
    (DOC, "Word 文档 (DOC)"),
    (DOCX, "Word 文档 (DOCX)"),
    (XLS, "Excel 表格 (XLS)"),
    (XLSX, "Excel 表格 (XLSX)"),
];

/// What a user calls an accepted media type; `None` for any other.
pub fn kind_of(media_type: &str) -> Option<&'static str> {
    MEDIA_TYPES
        .iter()
        .find(|(t, _)| *t == media_type)
        .map(|(_, k)| *k)
}

/// The media type of a file, told from its bytes: JPEG, PNG and PDF by their signatures; a zip by
/// the entries it names (`OFD.xml` → OFD, `word/` → DOCX, `xl/` → XLSX); an OLE compound file
/// (the container of DOC and XLS alike) by its signature, then the name's extension to tell the
/// two apart. Anything else is refused with the reason.
pub fn sniff(bytes: &[u8], name: &str) -> Result<&'static str, String> {
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(JPEG);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(PNG);
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok(PDF);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let names = zip_names(bytes);
        if names.iter().any(|n| n.eq_ignore_ascii_case(b"OFD.xml")) {
            return Ok(OFD);
        }
        if names.iter().any(|n| n.starts_with(b"word/")) {
            return Ok(DOCX);
        }
        if names.iter().any(|n| n.starts_with(b"xl/")) {
            return Ok(XLSX);
        }
        return Err("压缩包不是 OFD、DOCX 或 XLSX / a zip that is not OFD, DOCX or XLSX".into());
    }
    if bytes.starts_with(OLE) {
        let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        return match ext.as_str() {
            "doc" | "wps" => Ok(DOC),
            "xls" | "et" => Ok(XLS),
            _ => Err(
                "OLE 复合文档须以 .doc 或 .xls 命名 / an OLE compound file must be named .doc or .xls"
                    .into(),
            ),
        };
    }
    Err(
        "仅接受 JPEG、PNG、PDF、OFD、DOC/DOCX、XLS/XLSX（按内容识别）/ only JPEG, PNG, PDF, OFD, DOC/DOCX, XLS/XLSX are accepted (told by content)"
            .into(),
    )
}

/// The entry names of a zip, from its central directory (each record `PK\x01\x02`, the name's
/// length at +28, the name at +46). Only names are needed, never the compressed data, so no zip
/// library (and its decompressors) is pulled in for this.
fn zip_names(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = find(&bytes[at..], b"PK\x01\x02") {
        let rec = at + i;
        let Some(len) = bytes.get(rec + 28..rec + 30) else {
            break;
        };
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        if let Some(name) = bytes.get(rec + 46..rec + 46 + len) {
            out.push(name);
        }
        at = rec + 4;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip holding one stored (uncompressed) empty entry named `name`: a local header and a
    /// central directory record, as a zip writer lays them out.
    fn zip_with(name: &str) -> Vec<u8> {
        let n = name.as_bytes();
        let mut z = b"PK\x03\x04".to_vec();
        z.extend([0u8; 22]);
        z.extend((n.len() as u16).to_le_bytes());
        z.extend([0u8; 2]);
        z.extend(n);
        z.extend(b"PK\x01\x02");
        z.extend([0u8; 24]);
        z.extend((n.len() as u16).to_le_bytes());
        z.extend([0u8; 16]);
        z.extend(n);
        z
    }

    #[test]
    fn types_are_told_by_content_not_by_name() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest", "a.pdf"), Ok(JPEG));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest", "a.jpg"), Ok(PNG));
        assert_eq!(sniff(b"%PDF-1.7", "a.png"), Ok(PDF));
        assert_eq!(sniff(&zip_with("OFD.xml"), "a.zip"), Ok(OFD));
        assert_eq!(sniff(&zip_with("word/document.xml"), "a"), Ok(DOCX));
        assert_eq!(sniff(&zip_with("xl/workbook.xml"), "a"), Ok(XLSX));
        let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
        assert_eq!(sniff(&ole, "验收单.DOC"), Ok(DOC));
        assert_eq!(sniff(&ole, "台账.xls"), Ok(XLS));
    }

    #[test]
    fn other_content_is_refused_with_a_reason_whatever_its_name() {
        assert!(
            sniff(b"MZ\x90\x00", "照片.jpg")
                .unwrap_err()
                .contains("JPEG")
        );
        assert!(sniff(&zip_with("evil.exe"), "a.docx").is_err());
        let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        assert!(sniff(&ole, "a.msi").is_err());
        assert!(sniff(b"", "a.png").is_err());
    }

    #[test]
    fn a_reference_names_the_field_it_gets_wrong() {
        let good = Attachment {
            sha256: "ab".repeat(32),
            size: 3,
            media_type: PNG.into(),
            name: "整改后.png".into(),
        };
        assert_eq!(good.validate(), Ok(()));
        let bad = |f: fn(&mut Attachment)| {
            let mut a = good.clone();
            f(&mut a);
            a.validate().unwrap_err().0
        };
        assert_eq!(bad(|a| a.sha256 = "AB".repeat(32)), "sha256");
        assert_eq!(bad(|a| a.size = 0), "size");
        assert_eq!(bad(|a| a.media_type = "text/html".into()), "media_type");
        assert_eq!(bad(|a| a.name = "../x".into()), "name");
    }
}
