"""The `assistant` command. Errors are one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from .access import OPERATOR
from .admin import add_files, remove_documents
from .appdata import AppData, AuditEntry, audit_entries
from .build import BuildOptions, BuildReport, add_to_index, build_index, scan_corpus, update_index
from .config import Settings
from .errors import AssistantError, BadRequest
from .manifest import verify_files
from .models import Answer, Citation
from .recovery import not_indexed
from .retrieval import check_k
from .service import Assistant

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def location_options(function: F) -> F:
    """--corpus, --index and --model, each mirroring its ASSISTANT_* environment variable."""
    function = click.option("--model", help="Embedding model name or folder [ASSISTANT_MODEL].")(function)
    function = click.option("--index", "index_dir", type=click.Path(path_type=Path),
                            help="Index folder [ASSISTANT_INDEX_DIR].")(function)
    function = click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path),
                            help="Folder of review files [ASSISTANT_CORPUS_DIR].")(function)
    return function


def settings_from(**flags: Any) -> Settings:
    return Settings.from_env(**flags)


def terminal_progress(items: Iterable[T], total: int, label: str) -> Iterable[T]:
    """A progress bar with an ETA on a terminal; in a log, a line with the ETA every minute or so."""
    if total <= 1:
        return items
    if not sys.stderr.isatty():
        return logged_progress(items, total, label)
    from tqdm import tqdm

    return tqdm(items, total=total, desc=label, unit="step", leave=False, file=sys.stderr)


def logged_progress(items: Iterable[T], total: int, label: str, every: float = 60.0,
                    clock: Callable[[], float] = time.monotonic) -> Iterator[T]:
    """Progress for a long build running under a service manager or nohup: one line per `every` seconds."""
    started = last = clock()
    for done, item in enumerate(items, start=1):
        yield item
        now = clock()
        if now - last >= every and done < total:
            last = now
            eta = (now - started) / done * (total - done)
            click.echo(f"{label}: {done:,} of {total:,} ({done / total:.0%}), about {format_duration(eta)} left",
                       err=True)


def format_duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{max(minutes, 1)} min"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Ask published child safeguarding case reviews, and get answers quoted and cited."""


@cli.group()
def index() -> None:
    """Build and maintain the search index."""


def _print_report(report: BuildReport, title: str) -> None:
    for doc_id in report.added:
        click.echo(f"added     {doc_id}")
    for doc_id in report.replaced:
        click.echo(f"replaced  {doc_id}")
    for doc_id in report.removed:
        click.echo(f"removed   {doc_id}")
    for name, reason in report.skipped:
        click.echo(f"skipped   {name}: {reason}", err=True)
    for name, warning in report.warnings:
        click.echo(f"warning   {name}: {warning}", err=True)
    click.echo(f"{title}: {report.documents} reviews, {report.chunks} passages in index version {report.version} "
               f"({report.embedded_chunks} passages embedded, {report.seconds:.1f} s)")


def _audit(settings: Settings, report: BuildReport, *, whole_build: bool = False) -> None:
    """Record who changed the index from the command line, in the audit trail admins read."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name for this user id (some containers)
        user = f"uid {os.getuid()}"
    actor = f"{user} (command line)"
    appdata = AppData(settings.data_dir, retention_days=settings.retention_days, url=settings.database_url)
    if whole_build:
        appdata.audit(AuditEntry(actor, "command line", "build", "all reviews",
                                 f"{report.documents} reviews, index version {report.version}"))
    else:
        appdata.audit(*audit_entries(report.added, report.replaced, report.removed, actor=actor,
                                     address="command line"))


def settled(settings: Settings, *, changing: bool = True) -> Assistant:
    """The assistant, once the changes a killed process left half done in corpus/ are settled (said on stderr);
    a command `changing` the index is refused on a reader."""
    if changing:
        settings.refuse_changes_if_reader()
    assistant = Assistant(settings)
    if settings.role != "reader":
        for message in assistant.settle_corpus():
            click.echo(f"corpus: {message}", err=True)
    return assistant


def run_build(settings: Settings, assistant: Assistant) -> BuildReport:
    return build_index(files=scan_corpus(settings.corpus_dir), store=assistant.store, embedder=assistant.embedder,
                       options=BuildOptions.from_settings(settings), progress=terminal_progress)


@index.command("build")
@location_options
def index_build(**flags: Any) -> None:
    """Build the whole index from the corpus folder and publish it atomically."""
    settings = settings_from(**flags)
    report = run_build(settings, settled(settings))
    _print_report(report, "Built")
    _audit(settings, report, whole_build=True)
    if report.documents == 0:
        raise BadRequest(f"no readable reviews in {settings.corpus_dir}")


@index.command("update")
@location_options
def index_update(**flags: Any) -> None:
    """Sync the index with the corpus folder: new, changed and removed files."""
    settings = settings_from(**flags)
    assistant = settled(settings)
    report = update_index(files=scan_corpus(settings.corpus_dir), store=assistant.store, embedder=assistant.embedder,
                          options=BuildOptions.from_settings(settings), progress=terminal_progress)
    _print_report(report, "Updated" if report.changed else "Already up to date")
    _audit(settings, report)


@index.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@location_options
def index_add(files: tuple[Path, ...], **flags: Any) -> None:
    """Copy review files into the corpus and index just them."""
    settings = settings_from(**flags)
    assistant = settled(settings)
    report = add_files(settings=settings, store=assistant.store, embedder=assistant.embedder, files=list(files),
                       progress=terminal_progress)
    _print_report(report, "Added" if report.changed else "Nothing new")
    _audit(settings, report)


@index.command("retag")
@location_options
def index_retag(**flags: Any) -> None:
    """Tag every passage with the themes again (after the themes or ASSISTANT_THEMES changed); nothing is
    embedded again and the corpus folder is not read."""
    settings = settings_from(**flags)
    assistant = settled(settings)
    before = assistant.store.read_manifest().version
    report = add_to_index(files=[], store=assistant.store, embedder=assistant.embedder,
                          options=BuildOptions.from_settings(settings), progress=terminal_progress)
    _print_report(report, "Retagged" if report.version != before else "The themes have not changed; nothing to do")


@index.command("remove")
@click.argument("doc_ids", nargs=-1, required=True)
@location_options
def index_remove(doc_ids: tuple[str, ...], **flags: Any) -> None:
    """Take reviews out of the index; their files move to corpus/.removed/."""
    settings = settings_from(**flags)
    assistant = settled(settings)
    assistant.store.read_manifest()  # no index: say so before loading the model
    report = remove_documents(settings=settings, store=assistant.store, embedder=assistant.embedder,
                              doc_ids=list(doc_ids))
    _print_report(report, "Removed")
    _audit(settings, report)


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--verify", is_flag=True, help="Check every file's checksum (large files are checked by size "
              "when a version is opened).")
@location_options
def index_status(as_json: bool, verify: bool, **flags: Any) -> None:
    """Show the published index: version, build time, counts, model; and the review files in the corpus
    folder it does not hold as they are (what `assistant index update` would change)."""
    settings = settings_from(**flags)
    assistant = settled(settings, changing=False)
    status = assistant.status()
    status["corpus_not_indexed"] = not_indexed(settings.corpus_dir, assistant.indexed_hashes())
    if verify:
        published = assistant.store.published(model=status["model"])
        verify_files(published.directory, published.manifest, published.manifest.files)
        status["verified"] = True
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    for key, value in status.items():
        click.echo(f"{key:>18}: {value}")


def _print_citation(citation: Citation) -> None:
    where = ", ".join(str(part) for part in (citation.area, citation.year) if part)
    place = " · ".join(part for part in (citation.section, f"p. {citation.page}" if citation.page else None)
                       if part)
    click.echo(f"[{citation.n}] {citation.title} ({where}) — {place}  score {citation.score:.2f}")
    click.echo(f"    {citation.url}" + (f"   themes: {', '.join(citation.themes)}" if citation.themes else ""))
    for line in citation.text.splitlines():
        click.echo(f"    {line}")


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("-k", "k", type=int, default=None, help="How many passages to consider (1-50).")
@location_options
def ask(question: str, as_json: bool, k: int | None, **flags: Any) -> None:
    """Answer a question from the reviews, with citations."""
    answer: Answer = Assistant(settings_from(**flags)).ask(question, k=k, reader=OPERATOR)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return
    if answer.searched:
        click.echo(f"(searched for: {answer.searched})\n")
    click.echo(answer.answer + "\n")
    for citation in answer.citations:
        _print_citation(citation)


@cli.command("eval")
@click.argument("questions", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures and misses as JSON.")
@click.option("-k", "k", type=int, default=5, show_default=True, help="Passages cited per answer.")
@location_options
def eval_command(questions: Path, as_json: bool, k: int, **flags: Any) -> None:
    """Check answers on your own questions: R@1, R@3, MRR, refusals and misses, beside a plain baseline.

    QUESTIONS is a JSON file {"questions": [{"id", "q", "gold": ["a phrase the answer passage holds"]}]};
    "gold": "none" marks a question the reviews do not answer, which should be refused.
    """
    from .evaluation import compare, load_questions

    check_k(k)
    results = compare(Assistant(settings_from(**flags)), load_questions(questions), k=k, reader=OPERATOR)
    if as_json:
        click.echo(json.dumps({name: scores.as_dict() for name, scores in results.items()}, indent=2,
                              ensure_ascii=False))
        return
    for name, scores in results.items():
        label = "assistant" if name == "assistant" else "plain baseline"
        click.echo(f"{label:15s} {scores.line()}")
    misses = results["assistant"].misses
    if misses:
        click.echo(f"\n{len(misses)} questions not answered first from a passage holding a gold phrase, or "
                   "answered though no review answers them:")
    for miss in misses:
        where = "not in the passages cited" if miss.rank is None else f"cited at {miss.rank}"
        if miss.question.gold is None:
            outcome = "answered, should be refused"
        else:
            outcome = where + ("" if miss.answered else "; refused")
        click.echo(f"- {miss.question.id}: {miss.question.q}\n    {outcome}; first citation {miss.top or 'none'}")


@cli.command("search")
@click.argument("query", default="")
@click.option("--json", "as_json", is_flag=True, help="Print the passages as JSON.")
@click.option("-k", "k", type=int, default=None, help="How many passages (1-50).")
@click.option("--theme", default=None, help="Only passages tagged with this theme id (see `assistant themes`).")
@click.option("--area", default=None, help="Only reviews from this area.")
@click.option("--type", "review_type", default=None, help="Only reviews of this type.")
@click.option("--year-from", type=int, default=None, help="Only reviews from this year on.")
@click.option("--year-to", type=int, default=None, help="Only reviews up to this year.")
@location_options
def search_command(query: str, as_json: bool, k: int | None, theme: str | None, area: str | None,
                   review_type: str | None, year_from: int | None, year_to: int | None, **flags: Any) -> None:
    """Find passages on a theme (for trainers): passages only, best first."""
    filters = {"theme": theme, "area": area, "type": review_type, "year_from": year_from, "year_to": year_to}
    citations = Assistant(settings_from(**flags)).search(query, k=k, filters=filters, reader=OPERATOR)
    if as_json:
        click.echo(json.dumps({"query": query, "results": [c.to_dict() for c in citations]}, indent=2,
                              ensure_ascii=False))
        return
    if not citations:
        click.echo("No passages found.")
    for citation in citations:
        _print_citation(citation)


@cli.command("themes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@location_options
def themes_command(as_json: bool, **flags: Any) -> None:
    """List the themes with how many reviews and passages raise each."""
    summary = Assistant(settings_from(**flags)).theme_summary(OPERATOR)
    if as_json:
        click.echo(json.dumps({"themes": summary}, indent=2))
        return
    for theme in summary:
        click.echo(f"{theme['id']:<24} {theme['label']:<42} {theme['documents']:>3} reviews "
                   f"{theme['chunks']:>5} passages")


@cli.command()
@click.option("--host", default=None, help="Address to listen on [ASSISTANT_HOST].")
@click.option("--port", type=int, default=None, help="Port [ASSISTANT_PORT].")
@click.option("--workers", type=int, default=None, help="Worker processes [ASSISTANT_WORKERS].")
@location_options
def serve(**flags: Any) -> None:
    """Serve the web chat and the JSON API; builds the index first if there is none."""
    import uvicorn

    from .api import create_app
    from .embedding import share_cores
    from .http import SERVER_OPTIONS
    from .onnx_encoder import OnnxEncoder
    from .prefork import serve_forked

    settings = settings_from(**flags)
    assistant = Assistant(settings)
    if settings.role == "reader":  # the writer builds and publishes; a reader serves each version it publishes
        if assistant.store.current_version() is None:
            click.echo(f"No index yet in {settings.index_dir}: ready once the writer publishes one", err=True)
    else:
        if assistant.store.current_version() is None:
            click.echo(f"No index yet in {settings.index_dir}; building it from {settings.corpus_dir} ...",
                       err=True)
            _print_report(run_build(settings, assistant), "Built")
        assistant.index()  # fail now, with one clear line, if the index cannot be used
    click.echo(f"Serving on http://{settings.host}:{settings.port}/ with {settings.workers} worker(s)", err=True)
    if settings.workers > 1:
        share_cores(settings.workers)  # before the model is loaded: one runtime thread per worker on 2 cores
        if isinstance(assistant.embedder, OnnxEncoder):  # loaded once here, shared by forked workers
            assistant.index().close()  # each worker opens its own
            serve_forked(settings, assistant.embedder)
            return
        # Each worker process builds its own app from the environment: pass the flags on through it.
        os.environ.update({"ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
                           "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_MODEL": settings.model,
                           "ASSISTANT_WORKERS": str(settings.workers)})
        uvicorn.run("assistant.api:create_app", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, **SERVER_OPTIONS)
    else:
        uvicorn.run(create_app(settings, assistant=assistant), host=settings.host, port=settings.port,
                    **SERVER_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="assistant", standalone_mode=False)
    except AssistantError as error:
        click.echo(f"error: {error.message}", err=True)
        return error.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
