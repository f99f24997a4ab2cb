"""Each loader on files the tests make themselves, and every kind of unreadable file."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from assistant.errors import DocumentUnreadable
from assistant.ingest import chunk_document, load_document
from assistant.ingest.loaders import load_file, sniff_format
from assistant.params import DEFAULT_CHUNKING

PARAGRAPH = ("Practitioners should contact the duty team when a family stops engaging with early help and "
             "concerns for the children remain. The case should not be closed until the full picture is known.")


def make_pdf(path: Path, pages: list[list[tuple[str, str]]]) -> Path:
    """A real PDF with a text layer: each page a list of (kind, text), kind 'h' for a bold heading."""
    pdf = FPDF()
    for page in pages:
        pdf.add_page()
        for kind, text in page:
            if kind == "h":
                pdf.set_font("Helvetica", "B", 14)
                pdf.multi_cell(0, 8, text)
                pdf.ln(2)
            else:
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 6, text)
                pdf.ln(4)
    pdf.output(str(path))
    return path


def test_pdf_keeps_text_headings_and_page_numbers(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "review.pdf", [
        [("h", "Serious Case Review: Child P"), ("p", "Introduction text about the review of Child P. " * 3)],
        [("h", "Finding 1: Information sharing between agencies"), ("p", PARAGRAPH)],
        [("h", "Finding 2: Supervision"), ("p", "Managers did not challenge the plan in supervision. " * 3)],
    ])
    document = load_document(path)
    assert len(document.page_starts) == 3
    chunks = chunk_document(document, DEFAULT_CHUNKING)
    by_text = {c.text.split(".")[0]: c for c in chunks}
    sharing = next(c for c in chunks if "duty team" in c.text)
    assert sharing.page == 2
    assert sharing.section == "Finding 1: Information sharing between agencies"
    supervision = next(c for c in chunks if "Managers did not challenge" in c.text)
    assert supervision.page == 3 and supervision.section == "Finding 2: Supervision"
    assert by_text  # every chunk has text
    # a paragraph wrapped over several printed lines comes back as one paragraph
    assert PARAGRAPH in sharing.text


def test_docx_headings_lists_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Learning review: Family Q", level=1)
    document.add_paragraph("The review was commissioned by the Northshire Safeguarding Children Partnership "
                           "in March 2023.")
    document.add_heading("Learning Point 1: Professional curiosity", level=2)
    document.add_paragraph("Practitioners accepted explanations at face value and did not ask to see the bedrooms.")
    document.add_paragraph("Ask to see where the children sleep", style="List Bullet")
    document.add_paragraph("Check what parents tell you", style="List Bullet")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Agency"
    table.rows[0].cells[1].text = "Health visiting"
    path = tmp_path / "family-q.docx"
    document.save(str(path))

    loaded = load_document(path)
    assert loaded.meta.title == "Learning review: Family Q"
    assert loaded.meta.area == "Northshire"
    assert loaded.meta.year == 2023
    chunks = chunk_document(loaded, DEFAULT_CHUNKING)
    curiosity = next(c for c in chunks if "face value" in c.text)
    assert curiosity.section == "Learning Point 1: Professional curiosity"
    assert "- Ask to see where the children sleep\n- Check what parents tell you" in curiosity.text
    assert any("Agency | Health visiting" in c.text for c in chunks)


def test_html_headings_and_script_removed(tmp_path: Path) -> None:
    path = tmp_path / "briefing.html"
    path.write_text(
        "<!doctype html><html><head><title>x</title><script>alert(1)</script></head><body>"
        "<nav>Home | About</nav><h1>7-minute briefing: Baby R</h1>"
        "<h2>Theme 2: Safer sleep</h2><p>Parents were given safer sleep advice but the baby "
        "was found co-sleeping after the parents had been drinking.</p><ul><li>Repeat advice at every "
        "contact</li><li>Ask where the baby sleeps</li></ul></body></html>",
        encoding="utf-8",
    )
    document = load_document(path)
    assert "alert(1)" not in document.text and "Home | About" not in document.text
    chunks = chunk_document(document, DEFAULT_CHUNKING)
    sleep = next(c for c in chunks if "co-sleeping" in c.text)
    assert sleep.section == "Theme 2: Safer sleep"
    assert "- Ask where the baby sleeps" in sleep.text
    assert document.meta.title == "7-minute briefing: Baby R"


def test_markdown_and_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Review of Child S\n\n## Finding 3: Escalation\n\nNobody escalated the\ndecision to close "
                    "the case, which was made in a hurry and without the school's view.\n", encoding="utf-8")
    chunks = chunk_document(load_document(path), DEFAULT_CHUNKING)
    assert chunks[0].section == "Finding 3: Escalation"
    assert "Nobody escalated the decision to close the case" in chunks[0].text
    assert chunks[0].page is None


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.pdf", b"   \n", "empty"),
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage garbage", "not a readable PDF"),
        ("letter.pdf", b"Dear colleague, this is a plain text file with a PDF name.",
         "named .pdf but the content is plain text"),
        ("tool.docx", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100, "binary data"),
        ("page.docx", b"PK\x03\x04 not really a zip", "not a readable Word document"),
        ("image.txt", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "binary data"),
        ("data.xlsx", b"a,b,c", "unsupported file type"),
    ],
)
def test_unreadable_files_are_reported_by_name(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentUnreadable) as error:
        load_file(path)
    assert error.value.message.startswith(name)
    assert reason in error.value.message


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 150, style="F")  # a picture of a page, no text
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(DocumentUnreadable, match="no text layer"):
        load_file(path)


def test_sniffing_ignores_the_name() -> None:
    assert sniff_format(b"%PDF-1.4 ...") == "pdf"
    assert sniff_format(b"<!DOCTYPE html><html>") == "html"
    assert sniff_format(b"\x7fELF\x02\x01") == "binary"
    assert sniff_format("Plain words, accents é".encode()) == "text"


def test_zip_bomb_docx_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"0" * (210 * 1024 * 1024))
    with pytest.raises(DocumentUnreadable, match="refused"):
        load_file(path)


def test_pdf_headings_found_by_type_size(tmp_path: Path) -> None:
    """A heading with no 'Finding'/'Theme' label is still a heading when it is set larger than the text."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 9, "What the health visitor saw at home and what was never asked about the sleeping "
                         "arrangements of the baby")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "The health visitor saw the living room only. " * 6)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 8, "Safer sleep advice")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Parents were given the advice but nobody checked it was followed. " * 4)
    path = tmp_path / "unlabelled.pdf"
    pdf.output(str(path))
    chunks = chunk_document(load_document(path), DEFAULT_CHUNKING)
    assert chunks[0].section == ("What the health visitor saw at home and what was never asked about the "
                                 "sleeping arrangements of the baby")
    advice = next(c for c in chunks if "nobody checked" in c.text)
    assert advice.section == "Safer sleep advice"
    assert "Safer sleep advice" not in advice.text


def test_malformed_word_xml_and_deep_html_are_refused(tmp_path: Path) -> None:
    import zipfile

    broken = tmp_path / "broken.docx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                         'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
                         '</Relationships>')
        archive.writestr("word/document.xml", "<w:document xmlns:w='x'><w:body>unclosed")
    with pytest.raises(DocumentUnreadable, match="not a readable Word document"):
        load_file(broken)
    deep = tmp_path / "deep.html"
    deep.write_text("<html><body>" + "<div>" * 5000 + "<p>Neglect was missed.</p>" + "</div>" * 5000)
    with pytest.raises(DocumentUnreadable, match="nests more than"):
        load_file(deep)
    flat = tmp_path / "flat.html"  # many unclosed paragraphs and list items are ordinary, not deep
    flat.write_text("<html><body><h1>Review</h1>" + "<p>The school saw neglect and acted on it." * 800 + "</body>")
    assert "The school saw neglect" in load_file(flat).text
