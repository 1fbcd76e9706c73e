//! Excel workbooks (xlsx), laid out as LightRAG's xlsx reader lays them out: each sheet
//! in workbook order under a `==================== Sheet: <name> ====================`
//! line (sheets apart by a blank line, a last `====================` line closing the
//! text), then every row from the first to the sheet's last as one line of its cells
//! joined by tabs, padded to the sheet's widest column, an empty row a blank line; a
//! cell's cached value, else its formula (`=SUM(A1:A2)`), with backslashes, tabs and
//! line breaks escaped (`\\`, `\t`, `\n`) so each row stays one line.
//!
//! The grid is laid out from the cells the file lists, so a file naming one far cell
//! (`XFD1048576`) would ask for gigabytes of tabs: every cell laid out is an operation
//! of the parse budget, and the text stops at the extracted-text ceiling.

use super::ParseError;
use super::archive::Archive;
use super::budget::Budget;
use super::markup::{Token, attribute, decode_entities, is_end, is_start, local_name, tokens};
use super::xlsx_values::{Formats, number};

const SEPARATOR: &str = "====================";
/// The largest row and column an xlsx sheet can have.
const MAX_ROW: u32 = 1_048_576;
const MAX_COLUMN: u32 = 16_384;

pub fn text(bytes: &[u8], budget: &mut Budget) -> Result<String, ParseError> {
    let mut archive = Archive::open(bytes, "xlsx", budget)?;
    let shared = match archive.read_optional("xl/sharedStrings.xml")? {
        Some(xml) => shared_strings(&xml, archive.budget())?,
        None => Vec::new(),
    };
    let mut formats = match archive.read_optional("xl/styles.xml")? {
        Some(xml) => Formats::read(&xml, archive.budget())?,
        None => Formats::default(),
    };
    let workbook = archive.read("xl/workbook.xml")?;
    let relations = archive
        .read_optional("xl/_rels/workbook.xml.rels")?
        .unwrap_or_default();
    let (sheets, date1904) = sheets(&workbook, &relations, archive.budget())?;
    formats.date1904 = date1904;
    if sheets.is_empty() {
        return Err(archive.corrupt("the workbook lists no worksheets".to_owned()));
    }
    let mut out = Vec::new();
    let mut size = 0u64;
    for (index, (title, part)) in sheets.iter().enumerate() {
        if index > 0 {
            out.push(String::new());
        }
        let title = title.replace(['\n', '\t', '\r'], " ");
        out.push(format!("{SEPARATOR} Sheet: {title} {SEPARATOR}"));
        let xml = archive.read(part)?;
        let cells = sheet_cells(&xml, &shared, &formats, archive.budget())
            .map_err(|e| e.in_part(part, &archive))?;
        lay_out(cells, archive.budget(), &mut out, &mut size)?;
    }
    out.push(SEPARATOR.to_owned());
    Ok(out.join("\n"))
}

/// One cell's place and text.
struct Cell {
    row: u32,
    column: u32,
    text: String,
}

/// Appends a sheet's rows to `out`, every row padded to the widest column.
fn lay_out(
    mut cells: Vec<Cell>,
    budget: &mut Budget,
    out: &mut Vec<String>,
    size: &mut u64,
) -> Result<(), ParseError> {
    cells.sort_by_key(|cell| (cell.row, cell.column));
    // openpyxl counts an empty sheet as one empty cell.
    let rows = cells.iter().map(|c| c.row).max().unwrap_or(1);
    let columns = cells.iter().map(|c| c.column).max().unwrap_or(1);
    let mut cells = cells.into_iter().peekable();
    for row in 1..=rows {
        let mut line = Vec::with_capacity(columns as usize);
        let mut any = false;
        for column in 1..=columns {
            budget.charge_operation()?;
            let mut text = String::new();
            while let Some(cell) = cells.next_if(|c| (c.row, c.column) <= (row, column)) {
                if (cell.row, cell.column) == (row, column) {
                    text = cell.text;
                }
            }
            any |= !text.is_empty();
            line.push(text);
        }
        let line = if any { line.join("\t") } else { String::new() };
        *size += line.len() as u64 + 1;
        if *size > super::MAX_EXTRACTED_BYTES {
            return Err(ParseError::TooLarge);
        }
        out.push(line);
    }
    Ok(())
}

/// Keeps each cell on one line of its row.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace("\r\n", "\\n")
        .replace(['\r', '\n'], "\\n")
}

/// The shared string table: each `si`'s text runs, phonetic guides left out.
fn shared_strings(xml: &str, budget: &mut Budget) -> Result<Vec<String>, ParseError> {
    let mut strings = Vec::new();
    let mut current = String::new();
    let mut in_text = false;
    let mut in_phonetic = false;
    for token in tokens(xml) {
        budget.charge_operation()?;
        match token {
            Token::Text(text) if in_text && !in_phonetic => {
                current.push_str(&decode_entities(text))
            }
            Token::Text(_) => {}
            Token::Tag(tag) => match local_name(tag) {
                "t" => in_text = is_start(tag) && !is_end(tag),
                "rPh" => in_phonetic = is_start(tag) && !is_end(tag),
                "si" if is_end(tag) => strings.push(std::mem::take(&mut current)),
                _ => {}
            },
        }
    }
    Ok(strings)
}

/// The worksheets of `workbook.xml` in order, as (name, part path), and whether the
/// workbook counts dates from 1904.
fn sheets(
    workbook: &str,
    relations: &str,
    budget: &mut Budget,
) -> Result<(Vec<(String, String)>, bool), ParseError> {
    let mut targets = Vec::new();
    for token in tokens(relations) {
        budget.charge_operation()?;
        if let Token::Tag(tag) = token
            && local_name(tag) == "Relationship"
            && attribute(tag, "Type").is_some_and(|t| t.ends_with("/worksheet"))
            && let (Some(id), Some(target)) = (attribute(tag, "Id"), attribute(tag, "Target"))
        {
            targets.push((id.to_owned(), part_path(&decode_entities(target))));
        }
    }
    let mut sheets = Vec::new();
    let mut date1904 = false;
    for token in tokens(workbook) {
        budget.charge_operation()?;
        let Token::Tag(tag) = token else {
            continue;
        };
        match local_name(tag) {
            "workbookPr" => {
                date1904 = matches!(attribute(tag, "date1904"), Some("1" | "true"));
            }
            "sheet" if is_start(tag) => {
                let id = attribute(tag, "r:id").unwrap_or_default();
                if let Some((_, target)) = targets.iter().find(|(t, _)| t == id) {
                    let name = decode_entities(attribute(tag, "name").unwrap_or_default());
                    sheets.push((name, target.clone()));
                }
            }
            _ => {}
        }
    }
    Ok((sheets, date1904))
}

/// A relationship target as a path inside the archive (relative to `xl/`, or absolute).
fn part_path(target: &str) -> String {
    let joined = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_owned(),
        None => format!("xl/{target}"),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Why a sheet's cells could not be read.
enum SheetError {
    Parse(ParseError),
    Bad(String),
}

impl From<super::budget::Exceeded> for SheetError {
    fn from(e: super::budget::Exceeded) -> Self {
        Self::Parse(e.into())
    }
}

impl SheetError {
    fn in_part(self, part: &str, archive: &Archive) -> ParseError {
        match self {
            Self::Parse(e) => e,
            Self::Bad(reason) => archive.corrupt(format!("{part}: {reason}")),
        }
    }
}

/// What the cell being read holds so far.
#[derive(Default)]
struct Pending {
    row: u32,
    column: u32,
    kind: String,
    style: Option<usize>,
    value: Option<String>,
    formula: Option<String>,
    inline: Option<String>,
}

/// Where text inside a cell goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Nothing,
    Value,
    Formula,
    Inline,
}

/// Every cell a worksheet lists, with its text.
fn sheet_cells(
    xml: &str,
    shared: &[String],
    formats: &Formats,
    budget: &mut Budget,
) -> Result<Vec<Cell>, SheetError> {
    let mut cells = Vec::new();
    let mut row = 0u32;
    let mut column = 0u32;
    let mut pending: Option<Pending> = None;
    let mut into = Slot::Nothing;
    let mut in_phonetic = false;
    for token in tokens(xml) {
        budget.charge_operation()?;
        let tag = match token {
            Token::Text(text) => {
                if let Some(cell) = pending.as_mut() {
                    let slot = match into {
                        Slot::Value => &mut cell.value,
                        Slot::Formula => &mut cell.formula,
                        Slot::Inline if !in_phonetic => &mut cell.inline,
                        _ => continue,
                    };
                    slot.get_or_insert_default()
                        .push_str(&decode_entities(text));
                }
                continue;
            }
            Token::Tag(tag) => tag,
        };
        let (start, end) = (is_start(tag), is_end(tag));
        match local_name(tag) {
            "row" if start => {
                row = match attribute(tag, "r") {
                    Some(r) => r
                        .parse()
                        .map_err(|_| SheetError::Bad(format!("bad row {r}")))?,
                    None => row + 1,
                };
                column = 0;
            }
            "c" if start => {
                let (cell_row, cell_column) = match attribute(tag, "r") {
                    Some(reference) => cell_reference(reference).ok_or_else(|| {
                        SheetError::Bad(format!("bad cell reference {reference}"))
                    })?,
                    None => (row.max(1), column + 1),
                };
                if cell_row > MAX_ROW || cell_column > MAX_COLUMN || cell_row == 0 {
                    return Err(SheetError::Bad("cell beyond the sheet's grid".to_owned()));
                }
                (row, column) = (cell_row, cell_column);
                pending = Some(Pending {
                    row,
                    column,
                    kind: attribute(tag, "t").unwrap_or("n").to_owned(),
                    style: attribute(tag, "s").and_then(|s| s.parse().ok()),
                    ..Pending::default()
                });
                if end && let Some(cell) = pending.take() {
                    cells.push(finish(cell, shared, formats)?);
                }
            }
            "c" => {
                if let Some(cell) = pending.take() {
                    cells.push(finish(cell, shared, formats)?);
                }
            }
            "v" => {
                into = if start && !end {
                    Slot::Value
                } else {
                    Slot::Nothing
                }
            }
            "f" => {
                into = if start && !end {
                    Slot::Formula
                } else {
                    Slot::Nothing
                }
            }
            "t" => {
                into = if start && !end {
                    Slot::Inline
                } else {
                    Slot::Nothing
                }
            }
            "rPh" => in_phonetic = start && !end,
            _ => {}
        }
    }
    Ok(cells)
}

/// `B12` → (12, 2).
fn cell_reference(reference: &str) -> Option<(u32, u32)> {
    let digits = reference.find(|c: char| c.is_ascii_digit())?;
    let (letters, number) = reference.split_at(digits);
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let column = letters.bytes().try_fold(0u32, |acc, b| {
        b.is_ascii_alphabetic()
            .then(|| acc * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1))
    })?;
    Some((number.parse().ok()?, column))
}

/// A cell's text: its cached value as its type reads, else its formula.
fn finish(cell: Pending, shared: &[String], formats: &Formats) -> Result<Cell, SheetError> {
    let text = match (cell.kind.as_str(), cell.value) {
        ("inlineStr", _) => cell.inline.unwrap_or_default(),
        (_, None) => cell
            .formula
            .filter(|f| !f.is_empty())
            .map(|f| format!("={f}"))
            .unwrap_or_default(),
        ("s", Some(index)) => index
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|i| shared.get(i))
            .cloned()
            .ok_or_else(|| SheetError::Bad(format!("no shared string {index}")))?,
        ("b", Some(value)) => match value.trim() {
            "0" => "False".to_owned(),
            _ => "True".to_owned(),
        },
        ("n", Some(value)) => number(&value, formats.shown(cell.style), formats.date1904),
        (_, Some(value)) => value,
    };
    Ok(Cell {
        row: cell.row,
        column: cell.column,
        text: escape(&text),
    })
}

#[cfg(test)]
mod tests {
    use super::super::archive::tests::zip_of;
    use super::super::budget::{Exceeded, ParseLimits};
    use super::*;

    const RELS: &[u8] = br#"<Relationships>
        <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/>
        <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/sheet1.xml"/>
        <Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
    </Relationships>"#;

    fn workbook(sheet1: &str, sheet2: &str) -> Vec<u8> {
        zip_of(&[
            (
                "xl/workbook.xml",
                br#"<workbook><sheets><sheet name="Data &amp; more" sheetId="1" r:id="rId1"/><sheet name="Summary" sheetId="2" r:id="rId2"/></sheets></workbook>"#,
            ),
            ("xl/_rels/workbook.xml.rels", RELS),
            (
                "xl/sharedStrings.xml",
                br#"<sst><si><t>Name</t></si><si><r><t>Ali</t></r><r><t xml:space="preserve">ce	"x"</t></r><rPh><t>ph</t></rPh></si></sst>"#,
            ),
            (
                "xl/styles.xml",
                br#"<styleSheet><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>"#,
            ),
            ("xl/worksheets/sheet1.xml", sheet1.as_bytes()),
            ("xl/worksheets/sheet2.xml", sheet2.as_bytes()),
        ])
    }

    fn text(bytes: &[u8]) -> Result<String, ParseError> {
        super::text(bytes, &mut Budget::new(ParseLimits::default()))
    }

    #[test]
    fn sheets_rows_and_cells_as_lightrag_lays_them_out() {
        let sheet1 = r#"<worksheet><sheetData>
            <row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><t>Born</t></is></c></row>
            <row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3"><v>30</v></c><c r="C3" s="1"><v>45352</v></c></row>
            <row r="4"><c r="A4" t="b"><v>1</v></c><c r="B4"><f>SUM(B1:B3)</f></c><c r="C4" t="str"><f>A1</f><v>a\b
c</v></c></row>
            </sheetData></worksheet>"#;
        let sheet2 = r#"<x:worksheet><x:sheetData><x:row><x:c><x:v>2.50</x:v></x:c><x:c t="e"><x:v>#DIV/0!</x:v></x:c></x:row></x:sheetData></x:worksheet>"#;
        assert_eq!(
            text(&workbook(sheet1, sheet2)).unwrap(),
            "==================== Sheet: Data & more ====================\n\
             Name\t\tBorn\n\
             \n\
             Alice\\t\"x\"\t30\t2024-03-01 00:00:00\n\
             True\t=SUM(B1:B3)\ta\\\\b\\nc\n\
             \n\
             ==================== Sheet: Summary ====================\n\
             2.5\t#DIV/0!\n\
             ===================="
        );
    }

    #[test]
    fn an_empty_sheet_is_one_blank_row() {
        let empty = "<worksheet><sheetData/></worksheet>";
        assert_eq!(
            text(&workbook(empty, empty)).unwrap(),
            "==================== Sheet: Data & more ====================\n\n\n\
             ==================== Sheet: Summary ====================\n\n===================="
        );
    }

    #[test]
    fn broken_workbooks_are_errors() {
        let sheet =
            r#"<worksheet><sheetData><row><c t="s"><v>9</v></c></row></sheetData></worksheet>"#;
        let err = text(&workbook(sheet, sheet)).unwrap_err().to_string();
        assert!(err.contains("no shared string 9"), "{err}");
        let far = r#"<c r="ZZZZ1"><v>1</v></c>"#;
        assert!(matches!(
            text(&workbook(far, far)),
            Err(ParseError::Corrupt { .. })
        ));
        let no_book = zip_of(&[("xl/worksheets/sheet1.xml", b"<worksheet/>")]);
        assert!(matches!(text(&no_book), Err(ParseError::Corrupt { .. })));
        assert!(matches!(
            text(b"not a zip"),
            Err(ParseError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_far_cell_exhausts_the_budget_not_memory() {
        let far = r#"<worksheet><sheetData><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>"#;
        let mut budget = Budget::new(ParseLimits {
            max_operations: 1_000_000,
            ..ParseLimits::default()
        });
        assert_eq!(
            super::text(&workbook(far, far), &mut budget),
            Err(ParseError::OverBudget(Exceeded::Operations(1_000_000)))
        );
    }
}
