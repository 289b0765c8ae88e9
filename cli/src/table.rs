//! Tables for people: a header row and aligned columns, numbers on the right.
//!
//! Columns are measured in terminal cells (display width), not characters:
//! CJK ideographs and most emoji take two cells.

use unicode_width::UnicodeWidthStr;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A table being filled.
#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table { columns: columns.to_vec(), rows: Vec::new() }
    }

    /// Adds a row (missing cells are empty, extra ones dropped).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The rendered table, each line ending in a newline; columns are
    /// separated by two spaces and trailing blanks are trimmed.
    pub fn render(&self) -> String {
        let cell = |r: &[String], i: usize| r.get(i).map_or("", String::as_str).to_owned();
        let header: Vec<String> = self.columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        let rows: Vec<Vec<String>> = std::iter::once(header)
            .chain(self.rows.iter().cloned())
            .map(|r| (0..self.columns.len()).map(|i| cell(&r, i)).collect())
            .collect();
        let widths: Vec<usize> =
            (0..self.columns.len()).map(|i| rows.iter().map(|r| r[i].width()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for r in &rows {
            let mut line = String::new();
            for (i, ((_, align), w)) in self.columns.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = w - r[i].width();
                match align {
                    Align::Left => {
                        line.push_str(&r[i]);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(&r[i]);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_with_numbers_on_the_right() {
        let mut t = Table::new(&[("TOPIC", Align::Left), ("RECORDS", Align::Right), ("NOTE", Align::Left)]);
        t.row(vec!["login".into(), "3".into(), "ok".into()]);
        t.row(vec!["b".into(), "12000".into(), String::new()]);
        assert_eq!(t.render(), "TOPIC  RECORDS  NOTE\nlogin        3  ok\nb        12000\n");
    }

    #[test]
    fn wide_characters_count_as_two_columns() {
        let mut t = Table::new(&[("TOPIC", Align::Left), ("RECORDS", Align::Right)]);
        t.row(vec!["注文".into(), "3".into()]);
        t.row(vec!["📦".into(), "12".into()]);
        t.row(vec!["orders".into(), "1".into()]);
        assert_eq!(t.render(), "TOPIC   RECORDS\n注文          3\n📦           12\norders        1\n");
    }
}
