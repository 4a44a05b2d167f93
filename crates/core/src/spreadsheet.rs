//! Formula-safe CSV cells, for files meant to be opened in a spreadsheet.
//!
//! Excel, LibreOffice and Google Sheets run a cell that starts with `=`,
//! `+`, `-` or `@` as a formula (and some also after a leading tab or
//! carriage return), so a contact named `=HYPERLINK("http://evil","click")`
//! becomes a live link, or worse, in the admin's spreadsheet. A neutralised
//! cell gets a leading apostrophe (`'`), which the spreadsheet shows as
//! text and does not display. This changes the data: a neutralised file
//! does not import back as it was (`-5` comes back as `'-5`), so the
//! default export stays the exact round trip and neutralising is asked for
//! (`--formula-safe`, `formula_safe=true`); docs/export.md says when.

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula.
pub const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet could read `cell` as a formula.
pub fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(FORMULA_STARTS)
}

/// `cell`, with a leading `'` when a spreadsheet could read it as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if is_formula_like(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// As [`neutralise`], for a cell of raw bytes (a rejected row as read).
pub fn neutralise_bytes(cell: &[u8]) -> Cow<'_, [u8]> {
    match cell.first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            let mut v = Vec::with_capacity(cell.len() + 1);
            v.push(b'\'');
            v.extend_from_slice(cell);
            Cow::Owned(v)
        }
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_formula_start_is_neutralised_and_nothing_else() {
        for cell in [
            "=1+2",
            "+1",
            "-5",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=HYPERLINK(\"http://e\")",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
            assert_eq!(
                neutralise_bytes(cell.as_bytes()).as_ref(),
                format!("'{cell}").as_bytes()
            );
        }
        for cell in ["", "ann@example.com", "Ann", "1=2", " =1", "'=1", "Zoë"] {
            assert_eq!(neutralise(cell), cell, "{cell:?}");
            assert_eq!(neutralise_bytes(cell.as_bytes()).as_ref(), cell.as_bytes());
        }
    }
}
