"""Every tunable number of chunking, PDF layout and ranking, each declared once with its reason.

Chunking and layout parameters shape the index, so they are stored in its manifest and feed the
compatibility check (`chunking_fingerprint`); ranking parameters only shape answers, so a benchmark
prints the ones it ran with. Values were calibrated on benchmarks/questions.json (the seed reviews)
unless the comment says otherwise.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Bump when the loaders or the chunker change how text is cut, even with the same parameters.
CHUNKER_CODE_VERSION = "7"


@dataclass(frozen=True)
class PdfLayoutParams:
    """How PDF lines are told apart: headings by size and weight, paragraph ends by line length."""

    # A line set this much larger than the body text is a heading (seed PDFs: headings 1.2-1.8x body).
    heading_size_ratio: float = 1.15
    # A bold line at least this size relative to the body, and shorter than heading_max_chars, is a heading.
    bold_heading_size_ratio: float = 0.95
    heading_max_chars: int = 100
    # A line shorter than this share of the typical full line ends its paragraph.
    short_line_ratio: float = 0.75
    # The "typical full line" is this quantile of line lengths on the page.
    full_line_quantile: float = 0.8


@dataclass(frozen=True)
class ChunkingParams:
    """Passage sizes: small enough to quote, large enough to carry one point with its context."""

    # Short paragraphs of one section are packed together up to this many words (R@3 best at 100).
    target_words: int = 100
    # A paragraph longer than this is split into runs of whole sentences.
    max_words: int = 170
    # A stub shorter than this (a signature, a date) folds into the passage before it.
    min_words: int = 25
    # A passage's vector: "text" encodes the passage whole with its review's title and section in front (as
    # the plain baseline does); "sentences" averages its sentences' vectors and its section title's.
    passage_vector: str = "text"
    pdf: PdfLayoutParams = field(default_factory=PdfLayoutParams)


@dataclass(frozen=True)
class VectorParams:
    """Exact or approximate vector search, by collection size (measured with benchmarks/scale.py)."""

    # Up to this many passages, passages are searched exactly (about 1 ms per 10,000 on this 2-core machine);
    # above, through an IVF index of 4-bit codes (about 1.5 ms at 500,000 on two threads, 2 ms on one).
    ann_min_passages: int = 50_000
    # IVF lists: this many per square root of the passage count (capped); a share of them is visited per
    # search. On 500,000 passages made of the benchmark collection's real sentence vectors, with its
    # questions (benchmarks/ann_recall.py): with 8-bit scalar codes, sqrt(N) lists and 36 % visited gave
    # recall@50 0.981 against exact search, 2 sqrt(N) lists 0.982 in 12 % less time (5.6 ms). 4-bit codes
    # of 2 dimensions each, scanned by SIMD, with 400 candidates scored exactly: 0.978 (36 % visited), 0.981
    # (40 %), 0.983 (44 %) in 2.8-2.9 ms.
    ann_lists_per_sqrt: float = 2.0
    ann_max_lists: int = 8192
    ann_probe_share: float = 0.44
    # ... and always enough lists to cover this many passages (a small index is searched whole).
    ann_min_scanned: int = 50_000
    # Training sample: this many vectors per list.
    ann_train_per_list: int = 40
    # Dimensions per 4-bit code: 2 (192 codes, 96 bytes a vector, for 384 dimensions). With 4 (48 bytes)
    # recall@50 fell to 0.86 at 400 candidates.
    ann_dims_per_code: int = 2
    # Candidates taken from the IVF index (as many as the passages wanted, and at least this many), then scored
    # exactly from the stored vectors (800 candidates: recall@50 0.987 at 44 % visited, 0.9 ms slower).
    ann_min_candidates: int = 400
    # Up to this many sentences, the question is matched against every sentence; above, against the
    # sentences of the candidate passages (from the dense and keyword searches) only.
    exact_sentence_limit: int = 100_000


@dataclass(frozen=True)
class RankingParams:
    """Hybrid retrieval: which candidates are gathered, how they are scored, and how much is cited."""

    # Candidates taken from each search (at least candidates_per_k * k).
    candidates: int = 50
    candidates_per_k: int = 4
    # Sentences searched per candidate passage: a passage has about three.
    sentences_per_candidate: int = 3
    # Past VectorParams.exact_sentence_limit, the sentences matched are those of the keyword candidates and
    # of this many passages nearest in meaning (collection.py --approximate sentences: held-out R@1, R@3 and
    # refusals unchanged, MRR 0.680 against 0.682).
    sentence_candidates: int = 300
    # A passage's score: its cosine (times dense_weight), plus its closest sentence's cosine, plus the
    # rarity-weighted share of the question's words it holds with its review's title and section, each times
    # its weight. The shortlist of passages so scored (`rescored`, whose text is read for it; the rest never
    # is) is chosen by the cosines and each keyword search's BM25 score as a share of that search's best:
    # any of the question's words, and a follow-up's own words. Fitted on one real-world set (pairwise
    # logistic regression, rounded; benchmarks/realworld.py and ablation.py), checked on two others.
    dense_weight: float = 1.0
    sentence_weight: float = 0.5
    coverage_weight: float = 0.3
    keyword_weight: float = 0.2
    focus_weight: float = 0.2
    rescored: int = 20
    # A passage is cited with its better neighbour when both were shortlisted and together they hold at most
    # this many words (0: passages are cited alone).
    context_max_words: int = 220
    # BM25 weights of the FTS5 columns: a word in the section title counts most, then the passage text.
    bm25_title_weight: float = 0.5
    bm25_section_weight: float = 2.0
    bm25_text_weight: float = 1.0
    # A word in at least this many passages is too common to score by keyword in a large collection (BM25
    # scores every passage holding it): it is left out, unless every word is, when the rarest words must all
    # appear together. No word of the benchmark collections is this common, so their figures are unchanged.
    keyword_max_postings: int = 2000
    # At most this many words (the rarest) go to the keyword search (the benchmark questions use up to 26).
    keyword_max_terms: int = 32
    keyword_fallback_terms: int = 3
    # Past this many passages, the words searched (rarest first) may hold this many passages between them:
    # scoring costs about 8 microseconds a passage (its length is looked up), so 1,500 is about 12 ms.
    keyword_budget_min_passages: int = 50_000
    keyword_max_rows: int = 1500


@dataclass(frozen=True)
class AnswerParams:
    """How coverage is judged (see answerability.py) and how an answer is composed from the passages."""

    # Passages whose evidence is judged and whose sentences may be quoted first.
    answer_passages: int = 3
    # A passage is cited only if its best sentence reaches this cosine (0.8 x the old seed threshold 0.345).
    cite_min_score: float = 0.276
    # The question's background: the cosine of its n-th nearest sentence across the collection.
    background_rank: int = 30
    # Passage frequencies are counted up to this many (beyond, a word is common whatever the exact count).
    frequency_cap: int = 5000
    # Logistic model over (best, margin, coverage, unknown, score), fitted by `benchmarks/realworld.py --fit` on
    # one real-world set (the others, the seeds and the fictional collection are checks).
    bias: float = -9.53
    weights: tuple[float, float, float, float, float] = (1.93, 2.55, 0.87, -0.24, 9.01)
    # At or above this chance the answer is direct; between the two, related passages are offered as such.
    # Chosen on that set where false refusals and wrongly answered near-domain questions balance.
    direct_probability: float = 0.3
    related_probability: float = 0.12
    related_min_best: float = 0.3
    # An answer quotes whole sentences until it has at least min_words, never passing max_words.
    min_words: int = 40
    max_words: int = 150
    # Two quotes sharing this share of their words say the same thing: the second is left out.
    duplicate_overlap: float = 0.6
    # A further quote whose sentence is this much less similar to the question than the first is left out.
    quote_score_drop: float = 0.15


@dataclass(frozen=True)
class OcrParams:
    """How scanned PDF pages are read with Tesseract (they shape only scanned pages' text, not the cutting)."""

    # The Tesseract program: a name looked up on PATH or a full path (Debian's tesseract-ocr).
    executable: str = "tesseract"
    # Pages are rendered at this resolution for Tesseract, which reads body type best at about 300 dpi.
    dpi: int = 300
    # A page with fewer letters than this in its text layer, and an image on it, is a scan to be read by OCR.
    min_letters: int = 20
    # ... and images covering at least this share of the page (a logo beside a short title is no scan).
    min_image_cover: float = 0.5
    # One page may take this long before Tesseract is stopped (a clean 300 dpi page takes a few seconds).
    page_timeout_seconds: float = 180.0
    # A page larger than this many million pixels at that resolution (a poster, a plan) is rendered smaller.
    max_megapixels: float = 60.0
    # Tesseract's page segmentation mode: 3 finds the blocks of a whole page by itself (columns, headings).
    page_segmentation: int = 3
    # The trained language data (Debian's tesseract-ocr-eng).
    language: str = "eng"
    # A PDF with more pages than this is refused before any page is read (ASSISTANT_MAX_PDF_PAGES): the longest
    # national reviews run to a few hundred pages; thousands of pages are an accident or an attack.
    max_pdf_pages: int = 2000
    # All OCR of one document may take this long (None: no limit, as for `assistant index add`); an upload over
    # the web is given ASSISTANT_UPLOAD_OCR_SECONDS, so no request is held for minutes.
    budget_seconds: float | None = None


DEFAULT_LAYOUT = PdfLayoutParams()
DEFAULT_OCR = OcrParams()
DEFAULT_CHUNKING = ChunkingParams()
DEFAULT_RANKING = RankingParams()
DEFAULT_VECTORS = VectorParams()
DEFAULT_ANSWER = AnswerParams()


def as_dict(params: Any) -> dict[str, Any]:
    return asdict(params)


def chunking_fingerprint(params: ChunkingParams) -> str:
    """A short version string that changes whenever the parameters or the chunker code change."""
    payload = json.dumps({"code": CHUNKER_CODE_VERSION, "params": asdict(params)}, sort_keys=True)
    return f"{CHUNKER_CODE_VERSION}-{hashlib.sha256(payload.encode()).hexdigest()[:10]}"
