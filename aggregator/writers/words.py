"""The few words the writers add to items and pages, by language.

Keyed by the primary subtag of ``site.language`` (``pt-BR`` uses ``pt``);
English when the language is not in the table; any word can be replaced in
the config (``site.words``).  ``{where}`` in ``watch_on`` is the video
site's name (YouTube, Vimeo...) or the provider's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Words:
    related_coverage: str = "Related coverage"
    watch_on: str = "Watch on {where}"
    also_covered_by: str = "Also covered by"


TABLE: dict[str, Words] = {
    "en": Words(),
    "de": Words("Weitere Berichte", "Auf {where} ansehen", "Auch berichtet von"),
    "es": Words("Cobertura relacionada", "Ver en {where}", "También lo cubren"),
    "fr": Words("Sur le même sujet", "Regarder sur {where}", "Également couvert par"),
    "it": Words("Articoli correlati", "Guarda su {where}", "Ne parlano anche"),
    "nl": Words("Gerelateerde berichten", "Bekijk op {where}", "Ook gemeld door"),
    "pt": Words("Cobertura relacionada", "Assistir no {where}", "Também noticiado por"),
}


def words_for(language: str, overrides: dict[str, str] | None = None) -> Words:
    """The words for ``language`` with ``overrides`` (field name -> text) applied."""
    base = TABLE.get(language.split("-")[0].lower(), TABLE["en"])
    known = {f.name for f in fields(Words)}
    return replace(base, **{k: v for k, v in (overrides or {}).items() if k in known and v})
