"""``kiosk content``: what translators and headquarters run on the content folder."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.errors import KioskError


@click.group("content")
def content() -> None:
    """Where each translation stands, and recording that one is up to date."""


@content.command("status")
@click.argument("src", type=click.Path(file_okay=False), default="content")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "json"]),
    default="text",
    show_default=True,
    help="A table for the terminal, a page to open in a browser, or JSON for programs.",
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write it to this file instead.")
def status(src: str, fmt: str, out: str | None) -> None:
    """Show a guide × language table: done, stale, missing, and words not yet translated."""
    from kiosk.content import status as report
    from kiosk.content.source import load_content

    data = report.content_status(load_content(src))
    text = {"text": report.as_text, "html": report.as_html, "json": report.as_json}[fmt](data)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"Wrote {out}.", err=True)
    else:
        click.echo(text, nl=False)


@content.command("translated")
@click.argument("src", type=click.Path(file_okay=False), default="content")
@click.option("--lang", "langs", multiple=True, help="Language tag (repeat; default: all).")
@click.option("--guide", "guide_ids", multiple=True, help="Guide id (repeat; default: all).")
def translated(src: str, langs: tuple[str, ...], guide_ids: tuple[str, ...]) -> None:
    """Record that translations are up to date with the reference text as it is now.

    Run it after updating a translation; commit the guide's translated.toml with it.
    """
    from kiosk.content import translations
    from kiosk.content.source import load_content

    loaded = load_content(src)
    known_langs = {lang.tag for lang in loaded.languages} - {loaded.reference}
    known_guides = {g.id for g in loaded.guides}
    for tag in langs:
        if tag not in known_langs:
            raise KioskError(f"{tag!r} is not a translation in languages.toml.")
    for gid in guide_ids:
        if gid not in known_guides:
            raise KioskError(f"There is no guide {gid!r}.")
    marked = 0
    for guide in loaded.guides:
        if guide_ids and guide.id not in guide_ids:
            continue
        folder = Path(src) / "guides" / guide.id
        records = translations.read(folder)
        hashes = translations.section_hashes(guide.texts[loaded.reference])
        for tag in sorted(guide.texts):
            if tag == loaded.reference or (langs and tag not in langs):
                continue
            if records.get(tag) != hashes:
                click.echo(f"{guide.id} · {tag}: up to date with {loaded.reference}.md as it is")
                marked += 1
            records[tag] = hashes
        if records:
            translations.write(folder, records)
    click.echo(f"Recorded {marked} translation(s); commit translated.toml with them.", err=True)


@click.command("studio")
@click.argument("src", type=click.Path(file_okay=False), default="content")
@click.option("--port", type=int, default=8070, show_default=True)
@click.option("--no-browser", is_flag=True, help="Only print the address; open no browser.")
def studio(src: str, port: int, no_browser: bool) -> None:
    """Record the guides in a human voice, sentence by sentence, in your own browser.

    Serves on 127.0.0.1 only; recordings are written into SRC beside the guides.
    """
    import webbrowser

    from waitress import serve

    from kiosk.content.source import load_content
    from kiosk.content.studio import create_studio
    from kiosk.speech import Speaker

    load_content(src)  # every problem in the content, before anyone starts reading
    try:
        speaker = Speaker(Path.home() / ".cache" / "first-mile-kiosk" / "speech")
    except KioskError:
        speaker = None  # no espeak-ng: sentence lengths are guessed from their letters
    url = f"http://127.0.0.1:{port}/"
    click.echo(f"The studio is at {url} (this computer only). Stop it with Ctrl+C.")
    if not no_browser:
        webbrowser.open(url)
    serve(create_studio(src, speaker), host="127.0.0.1", port=port, threads=4,
          ident="kiosk-studio", _quiet=True)  # fmt: skip
