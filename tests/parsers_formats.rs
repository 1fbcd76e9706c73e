//! Every file type of LightRAG 1.5.7's default deployment list (issue 16, items 1 and
//! 5): one real file of each, uploaded through `/documents/upload`, is processed and
//! its text (headings as Markdown lines where the format has them) is what the chunks
//! hold; one broken file of each ends `failed` with its reason; and
//! `/documents/supported_file_types` lists them all.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, call, settled, upload_file};
use serde_json::json;

/// LightRAG 1.5.7's default deployment list (legacy ∪ native).
const LIGHTRAG_DEFAULT: &[&str] = &[
    "txt",
    "md",
    "mdx",
    "pdf",
    "docx",
    "pptx",
    "xlsx",
    "rtf",
    "odt",
    "tex",
    "epub",
    "html",
    "htm",
    "csv",
    "json",
    "xml",
    "yaml",
    "yml",
    "log",
    "conf",
    "ini",
    "properties",
    "sql",
    "bat",
    "sh",
    "c",
    "h",
    "cpp",
    "hpp",
    "py",
    "java",
    "js",
    "ts",
    "swift",
    "go",
    "rb",
    "php",
    "css",
    "scss",
    "less",
    "textpack",
];

/// A zip of `entries` (name, text) written by python3's zipfile, as the producers of
/// these formats write them (deflated, `mimetype` first and stored for epub).
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let script = r#"
import io, json, sys, zipfile
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for name, body in json.load(sys.stdin):
        method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
        z.writestr(name, body.encode("utf-8"), compress_type=method)
sys.stdout.buffer.write(out.getvalue())
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!(entries).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    output.stdout
}

fn xlsx() -> Vec<u8> {
    zip_of(&[
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Staff" sheetId="1" r:id="rId1"/><sheet name="Budget" sheetId="2" r:id="rId2"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/></Relationships>"#,
        ),
        (
            "xl/sharedStrings.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>Name</t></si><si><t>Lab</t></si><si><t>Katherine Johnson</t></si><si><t>Langley Research Center</t></si></sst>"#,
        ),
        (
            "xl/worksheets/sheet1.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c><c r="C2"><v>1953</v></c></row></sheetData></worksheet>"#,
        ),
        (
            "xl/worksheets/sheet2.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Total</t></is></c><c r="B1"><f>SUM(C1:C9)</f></c></row></sheetData></worksheet>"#,
        ),
    ])
}

fn docx() -> Vec<u8> {
    zip_of(&[
        (
            "word/styles.xml",
            r#"<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style><w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style></w:styles>"#,
        ),
        (
            "word/document.xml",
            r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Compilers</w:t></w:r></w:p><w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Early work</w:t></w:r></w:p><w:p><w:r><w:t>Grace Hopper wrote the A-0 compiler for the UNIVAC.</w:t></w:r></w:p></w:body></w:document>"#,
        ),
    ])
}

fn odt() -> Vec<u8> {
    zip_of(&[
        ("mimetype", "application/vnd.oasis.opendocument.text"),
        (
            "content.xml",
            r#"<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text><text:h text:outline-level="1">Telephony</text:h><text:h text:outline-level="2">Invention</text:h><text:p>Alexander Graham Bell patented the telephone in Boston.</text:p></office:text></office:body></office:document-content>"#,
        ),
    ])
}

fn epub() -> Vec<u8> {
    zip_of(&[
        ("mimetype", "application/epub+zip"),
        (
            "META-INF/container.xml",
            r#"<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#,
        ),
        (
            "OEBPS/content.opf",
            r#"<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><manifest><item id="one" href="one.xhtml" media-type="application/xhtml+xml"/><item id="two" href="two.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="one"/><itemref idref="two"/></spine></package>"#,
        ),
        (
            "OEBPS/one.xhtml",
            r#"<html xmlns="http://www.w3.org/1999/xhtml"><body><h1>Chapter One</h1><p>Mary Shelley wrote Frankenstein in Geneva.</p></body></html>"#,
        ),
        (
            "OEBPS/two.xhtml",
            r#"<html xmlns="http://www.w3.org/1999/xhtml"><body><h2>Chapter Two</h2><p>The creature fled to the Arctic.</p></body></html>"#,
        ),
    ])
}

fn textpack() -> Vec<u8> {
    zip_of(&[
        ("Note.textbundle/info.json", r#"{"version": 2}"#),
        (
            "Note.textbundle/text.markdown",
            "# Expedition\n\nRoald Amundsen reached the South Pole in 1911.\n",
        ),
    ])
}

const RTF: &str = r#"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}}{\colortbl;\red0\green0\blue0;}{\info{\title Hidden Title}}
\pard\f0 Nikola Tesla demonstrated alternating current in Caf\'e9 Colorado Springs.\par
{\*\generator Hidden Generator;}Second \u8212? paragraph.\par}"#;

/// Every format: its file, a name its text indexes, and text its chunks must hold.
fn real_files() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    vec![
        ("staff.xlsx", xlsx(), "Katherine Johnson", "==================== Sheet: Staff ====================\nName\tLab\t\nKatherine Johnson\tLangley Research Center\t1953\n\n==================== Sheet: Budget ====================\nTotal\t=SUM(C1:C9)\n===================="),
        ("tesla.rtf", RTF.as_bytes().to_vec(), "Nikola Tesla", "Nikola Tesla demonstrated alternating current in Café Colorado Springs.\nSecond — paragraph."),
        ("shelley.epub", epub(), "Mary Shelley", "# Chapter One\nMary Shelley wrote Frankenstein in Geneva.\n## Chapter Two\nThe creature fled to the Arctic."),
        ("amundsen.textpack", textpack(), "Roald Amundsen", "# Expedition\n\nRoald Amundsen reached the South Pole in 1911."),
        ("hopper.docx", docx(), "Grace Hopper", "# Compilers\n## Early work\nGrace Hopper wrote the A-0 compiler for the UNIVAC."),
        ("bell.odt", odt(), "Alexander Graham Bell", "# Telephony\n## Invention\nAlexander Graham Bell patented the telephone in Boston."),
        ("berners.html", b"<html><body><h1>The Web</h1><p>Tim Berners-Lee proposed the Web at CERN.</p></body></html>".to_vec(), "Tim Berners-Lee", "# The Web\nTim Berners-Lee proposed the Web at CERN."),
        ("knuth.tex", b"\\section{Typesetting}\nDonald Knuth created TeX at Stanford.\n".to_vec(), "Donald Knuth", "\\section{Typesetting}\nDonald Knuth created TeX at Stanford."),
        ("kay.csv", b"name,lab\nAlan Kay,Xerox PARC\n".to_vec(), "Alan Kay", "name,lab\nAlan Kay,Xerox PARC"),
        ("franklin.json", br#"{"scientist": "Rosalind Franklin", "lab": "King's College London"}"#.to_vec(), "Rosalind Franklin", r#""scientist": "Rosalind Franklin""#),
        ("torvalds.xml", b"<items><item>Linus Torvalds wrote Linux in Helsinki.</item></items>".to_vec(), "Linus Torvalds", "<item>Linus Torvalds wrote Linux in Helsinki.</item>"),
        ("ritchie.yaml", b"founder: Dennis Ritchie\nlab: Bell Labs\n".to_vec(), "Dennis Ritchie", "founder: Dennis Ritchie\nlab: Bell Labs"),
        ("wirth.md", b"# Pascal\n\nNiklaus Wirth designed Pascal in Zurich.\n".to_vec(), "Niklaus Wirth", "# Pascal\n\nNiklaus Wirth designed Pascal in Zurich."),
    ]
}

/// Chunk texts of `file` that a naive query for `query` retrieves.
fn chunk_texts(server: &Server, query: &str, file: &str) -> Vec<String> {
    let r = call(
        server,
        "POST",
        "/query/data",
        &json!({"query": query, "mode": "naive", "chunk_top_k": 50}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["file_path"] == file)
        .map(|c| c["content"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_real_file_of_each_type_is_indexed_with_its_headings() {
    let server = Server::builder("formats-real").start();
    let files = real_files();
    let tracks: Vec<String> = files
        .iter()
        .map(|(name, body, _, _)| {
            upload_file(&server, name, body).json()["track_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for ((name, _, entity, text), track) in files.iter().zip(&tracks) {
        let doc = &settled(&server, track, 1, Duration::from_secs(60))[0];
        assert_eq!(doc["status"], "processed", "{name}: {doc}");
        assert!(
            doc["content_summary"].as_str().unwrap().contains(entity),
            "{name}: {doc}"
        );
        let chunks = chunk_texts(&server, entity, name);
        assert!(
            chunks.iter().any(|c| c.contains(text)),
            "{name}: {chunks:?} lacks {text:?}"
        );
        for hidden in ["Hidden Title", "Hidden Generator", "fonttbl", "Helvetica"] {
            assert!(
                !chunks.iter().any(|c| c.contains(hidden)),
                "{name}: {chunks:?}"
            );
        }
    }
    assert!(!server.output().contains("panicked"), "{}", server.output());
}

#[test]
fn a_broken_file_of_each_type_fails_with_its_reason() {
    let server = Server::builder("formats-broken").start();
    let not_utf8: &[u8] = &[0xff, 0xfe, 0x00, 0x80];
    let no_sheets = zip_of(&[("xl/workbook.xml", "<workbook><sheets/></workbook>")]);
    let bad_cell = zip_of(&[
        (
            "xl/workbook.xml",
            r#"<workbook><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        (
            "xl/worksheets/sheet1.xml",
            r#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>7</v></c></row></sheetData></worksheet>"#,
        ),
    ]);
    let no_spine = zip_of(&[
        ("mimetype", "application/epub+zip"),
        (
            "META-INF/container.xml",
            r#"<container><rootfiles><rootfile full-path="content.opf"/></rootfiles></container>"#,
        ),
        ("content.opf", "<package><manifest/><spine/></package>"),
    ]);
    let no_text = zip_of(&[("Note.textbundle/info.json", "{}")]);
    let broken: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage.xlsx",
            b"PK\x03\x04 not a zip".to_vec(),
            "Corrupt or unreadable xlsx file",
        ),
        (
            "empty-book.xlsx",
            no_sheets,
            "Corrupt or unreadable xlsx file: the workbook lists no worksheets",
        ),
        (
            "bad-cell.xlsx",
            bad_cell,
            "Corrupt or unreadable xlsx file: xl/worksheets/sheet1.xml: no shared string 7",
        ),
        (
            "plain.rtf",
            b"just text, no rtf header".to_vec(),
            "Corrupt or unreadable rtf file: it does not start with {\\rtf",
        ),
        (
            "unbalanced.rtf",
            br"{\rtf1 text}}".to_vec(),
            "Corrupt or unreadable rtf file: a group closes that never opened",
        ),
        (
            "garbage.epub",
            b"not a zip".to_vec(),
            "Corrupt or unreadable epub file",
        ),
        (
            "no-spine.epub",
            no_spine,
            "Corrupt or unreadable epub file: content.opf: the spine lists no documents",
        ),
        (
            "no-text.textpack",
            no_text,
            "Corrupt or unreadable textpack file: no text.markdown",
        ),
        (
            "garbage.docx",
            b"PK junk".to_vec(),
            "Corrupt or unreadable docx file",
        ),
        (
            "garbage.odt",
            b"PK junk".to_vec(),
            "Corrupt or unreadable odt file",
        ),
        (
            "latin1.tex",
            not_utf8.to_vec(),
            "File is not valid UTF-8 text",
        ),
        (
            "latin1.csv",
            not_utf8.to_vec(),
            "File is not valid UTF-8 text",
        ),
        (
            "latin1.json",
            not_utf8.to_vec(),
            "File is not valid UTF-8 text",
        ),
        (
            "latin1.xml",
            not_utf8.to_vec(),
            "File is not valid UTF-8 text",
        ),
        (
            "latin1.yaml",
            not_utf8.to_vec(),
            "File is not valid UTF-8 text",
        ),
        (
            "latin1.html",
            not_utf8.to_vec(),
            "File is not valid UTF-8 text",
        ),
        (
            "latin1.md",
            not_utf8.to_vec(),
            "File is not valid UTF-8 text",
        ),
        (
            "blank.txt",
            b"  \n ".to_vec(),
            "File contains no text content",
        ),
    ];
    let tracks: Vec<String> = broken
        .iter()
        .map(|(name, body, _)| {
            upload_file(&server, name, body).json()["track_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for ((name, _, reason), track) in broken.iter().zip(&tracks) {
        let doc = &settled(&server, track, 1, Duration::from_secs(60))[0];
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let message = doc["error_msg"].as_str().unwrap();
        assert!(message.starts_with(reason), "{name}: {message}");
    }
    assert_eq!(server.get("/health").status, 200);
    assert!(!server.output().contains("panicked"), "{}", server.output());
}

#[test]
fn supported_file_types_lists_lightrags_default_deployment() {
    let server = Server::builder("formats-types").start();
    let r = server.get("/documents/supported_file_types");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("vary"), Some("LIGHTRAG-WORKSPACE"));
    let types = r.json();
    let all: Vec<&str> = types["supported_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for ext in LIGHTRAG_DEFAULT {
        assert!(all.contains(&format!(".{ext}").as_str()), "{ext}: {all:?}");
    }
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    assert_eq!(types["engines"], json!({"native": all}));
    // What the list names, an upload accepts.
    for ext in ["xlsx", "rtf", "epub", "textpack", "tex"] {
        let r = upload_file(&server, &format!("accepted.{ext}"), b"x");
        assert_eq!(r.json()["status"], "success", "{ext}");
    }
}
