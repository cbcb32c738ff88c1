"""One self-contained HTML page that shows a run at a glance: `summarize report OUT --html FILE`.

The page needs no network: CSS is inline, charts are inline SVG drawn by matplotlib (the `report`
extra) with `svg.fonttype = 'none'`, so labels stay text and the browser draws every script with
its own fonts. The data comes from the I/O layer as plain records (`io.evalfiles.read_report_tables`).
"""

from __future__ import annotations

import html
import io
import logging
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import fmean, median
from typing import Any

from ..errors import OutputError, UsageError

log = logging.getLogger(__name__)

FAITHFULNESS_FLAGS = ("unsupported_number", "unsupported_name")
LOW_CONFIDENCE_FLAG = "low_confidence"
STATUS_COLOURS = {"ok": "#009E73", "skipped": "#E69F00", "error": "#D55E00"}
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# Endonyms shown next to codes, so a reader finds their language in its own script.
ENDONYMS = {
    "am": "አማርኛ", "ar": "العربية", "az": "azərbaycan", "bn": "বাংলা", "cs": "čeština", "cy": "Cymraeg",
    "da": "dansk", "de": "Deutsch", "el": "Ελληνικά", "en": "English", "es": "español", "fa": "فارسی",
    "fi": "suomi", "fr": "français", "gu": "ગુજરાતી", "ha": "Hausa", "he": "עברית", "hi": "हिन्दी",
    "hu": "magyar", "hy": "հայերեն", "id": "Indonesia", "ig": "Igbo", "it": "italiano", "ja": "日本語",
    "ka": "ქართული", "ko": "한국어", "ky": "кыргызча", "mr": "मराठी", "my": "မြန်မာ", "ne": "नेपाली",
    "nl": "Nederlands", "no": "norsk", "pa": "ਪੰਜਾਬੀ", "pl": "polski", "ps": "پښتو", "pt": "português",
    "ro": "română", "ru": "русский", "si": "සිංහල", "so": "Soomaali", "sr": "српски", "sv": "svenska",
    "sw": "Kiswahili", "ta": "தமிழ்", "te": "తెలుగు", "th": "ไทย", "ti": "ትግርኛ", "tr": "Türkçe",
    "uk": "українська", "ur": "اردو", "uz": "oʻzbek", "vi": "Tiếng Việt", "yo": "Yorùbá", "zh": "中文",
    "und": "undetermined",
}

CSS = """
body{font-family:system-ui,'Noto Sans','DejaVu Sans',sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;color:#1b1b1b;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:2px solid #0072B2;padding-bottom:.2em}
table{border-collapse:collapse;margin:.4em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#eef3f8}td.n{text-align:right;font-variant-numeric:tabular-nums}.kpi{display:flex;flex-wrap:wrap;gap:10px}
.kpi div{border:1px solid #ccc;border-radius:6px;padding:4px 10px;min-width:90px}.kpi b{display:block;font-size:1.4em}
.row{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
.chart svg{max-width:100%;height:auto}.note{color:#555;font-size:.85em}.warn{color:#D55E00;font-weight:bold}
"""


def label(lang: str) -> str:
    """A language code with its endonym, for chart and table labels."""
    name = ENDONYMS.get(lang.split("-")[0])
    return f"{lang} · {name}" if name else lang


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 1) -> str:
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{_esc(c)}</td>' if i >= numeric_from else f"<td>{_esc(c)}</td>" for i, c in enumerate(r)
        ) + "</tr>"
        for r in rows
    )
    return "<table><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + f"</tr>{body}</table>"


# ---- charts -------------------------------------------------------------------------------


RC = {
    "svg.fonttype": "none",  # text stays text: the browser renders every script with its own fonts
    "svg.hashsalt": "summarize",  # stable ids, so the same run gives the same page
    "font.size": 11,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise UsageError("the report needs matplotlib: pip install 'summarize[report]'") from e
    return matplotlib


def _figure(n_rows: int, width: float = 7.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, max(1.8, 0.3 * n_rows + 1.2)), layout="constrained")


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    with warnings.catch_warnings():
        # matplotlib measures labels with its own font, which lacks many scripts; the browser draws them.
        warnings.simplefilter("ignore")
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # no XML prolog or DOCTYPE inside HTML
    return f'<div class="chart">{svg}</div>'


def stacked_bars(counts: Mapping[str, Mapping[str, int]], keys: Sequence[str], xlabel: str,
                 colours: Mapping[str, str] | None = None) -> str:
    """Horizontal stacked bars, one per language (label with endonym), one segment per key."""
    langs = sorted(counts, key=lambda lang: -sum(counts[lang].values()))
    fig = _figure(len(langs))
    ax = fig.subplots()
    ys = list(range(len(langs)))[::-1]
    left = [0] * len(langs)
    for i, key in enumerate(keys):
        vals = [counts[lang].get(key, 0) for lang in langs]
        if not any(vals):
            continue
        colour = (colours or {}).get(key, PALETTE[i % len(PALETTE)])
        ax.barh(ys, vals, left=left, color=colour, label=key)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_yticks(ys, [label(lang) for lang in langs])
    ax.set_xlabel(xlabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.legend(loc="outside upper center", ncols=min(len(keys), 5), frameon=False)
    return _svg(fig)


def boxplots(values: Mapping[str, Sequence[float]], xlabel: str) -> str:
    """Horizontal box plots of a value per language (median, quartiles, whiskers at 1.5 IQR)."""
    langs = sorted((lang for lang in values if values[lang]), reverse=True)
    fig = _figure(len(langs))
    ax = fig.subplots()
    ax.boxplot([list(values[lang]) for lang in langs], orientation="horizontal", widths=0.6,
               patch_artist=True, boxprops={"facecolor": "#56B4E9"}, medianprops={"color": "#000"})
    ax.set_yticks(range(1, len(langs) + 1), [f"{label(lang)} (n={len(values[lang])})" for lang in langs])
    ax.set_xlabel(xlabel)
    return _svg(fig)


def histogram(values: Sequence[float], xlabel: str) -> str:
    """One histogram, with the median marked."""
    fig = _figure(4, width=6.0)
    ax = fig.subplots()
    ax.hist(values, bins=min(30, max(5, len(values) // 3)), color="#0072B2")
    ax.axvline(median(values), color="#D55E00", linestyle="--", label=f"median {median(values):,.0f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("articles")
    ax.legend(frameon=False)
    return _svg(fig)


def grouped_bars(groups: Sequence[Mapping[str, Any]], metrics: Sequence[str], xlabel: str) -> str:
    """Horizontal grouped bars: one group per row label, one bar per metric."""
    fig = _figure(len(groups) * max(1, len(metrics)) // 2 + 1)
    ax = fig.subplots()
    h = 0.8 / len(metrics)
    ys = list(range(len(groups)))[::-1]
    for i, m in enumerate(metrics):
        ax.barh([y + (i - (len(metrics) - 1) / 2) * h for y in ys], [g.get(m) or 0 for g in groups],
                height=h, color=PALETTE[i % len(PALETTE)], label=m)
    ax.set_yticks(ys, [str(g["label"]) for g in groups])
    ax.set_xlabel(xlabel)
    fig.legend(loc="outside upper center", ncols=len(metrics), frameon=False)
    return _svg(fig)


# ---- sections -----------------------------------------------------------------------------


def _flags(row: Mapping[str, Any]) -> list[str]:
    return [str(f) for f in (row.get("flags") or [])]


def _run_section(manifest: Mapping[str, Any], articles: Sequence[Mapping[str, Any]], rejects: int) -> str:
    status = Counter(str(a.get("status")) for a in articles)
    seconds = manifest.get("seconds") or 0
    rate = _processed(manifest, articles) / seconds if seconds else None
    opts = manifest.get("options") or {}
    kpis = [
        ("articles", _num(len(articles))), ("ok", _num(status.get("ok", 0))),
        ("errors", _num(status.get("error", 0))), ("skipped", _num(status.get("skipped", 0))),
        ("rejected records", _num(rejects)), ("languages", _num(len({a.get("lang") for a in articles}))),
        ("run time", f"{seconds:,.1f} s" if seconds else "–"), ("articles / s", _num(rate, 2)),
    ]
    rows = [
        ("run id", manifest.get("run_id")), ("state", manifest.get("state")),
        ("started", manifest.get("started")), ("finished", manifest.get("finished")),
        ("tool version", manifest.get("tool_version")), ("inputs", ", ".join(map(str, manifest.get("inputs") or []))),
        ("target languages", ", ".join(opts.get("to") or [])), ("translated fields", ", ".join(opts.get("translate") or [])),
        ("backend / device", f"{opts.get('backend', '?')} / {opts.get('device', '?')}"),
        ("resumed articles", manifest.get("resumed")), ("interrupted", manifest.get("interrupted") or "no"),
    ]
    kpi = "".join(f"<div>{_esc(k)}<b>{_esc(v)}</b></div>" for k, v in kpis)
    return f'<h2>Run</h2><div class="kpi">{kpi}</div><div class="row">' + _table(("", "value"), rows, numeric_from=9) + "</div>"


def _languages_section(articles: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for a in articles:
        counts[str(a.get("lang") or "und")][str(a.get("status"))] += 1
    statuses = sorted({s for c in counts.values() for s in c}, key=lambda s: (s not in STATUS_COLOURS, s))
    rows = [(label(lang), *(c.get(s, 0) for s in statuses), sum(c.values())) for lang, c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values()))]
    return ('<h2>Articles per language and status</h2><div class="row">'
            + stacked_bars(counts, statuses, "articles", STATUS_COLOURS)
            + _table(("language", *statuses, "total"), rows) + "</div>")


def _flags_section(articles: Sequence[Mapping[str, Any]], translations: Sequence[Mapping[str, Any]]) -> str:
    per_lang: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for a in articles:
        counts = per_lang[str(a.get("lang") or "und")]  # every language gets a row, flagged or not
        for f in _flags(a):
            counts[f] += 1
            totals[f] += 1
    out = ["<h2>Flags</h2>"]
    if totals:
        names = [f for f, _ in totals.most_common()]
        out.append('<div class="row">')
        out.append(stacked_bars({k: v for k, v in per_lang.items() if sum(v.values())}, names, "articles flagged"))
        n_by_lang = Counter(str(a.get("lang") or "und") for a in articles)
        out.append(_table(("language", "articles", *names), [
            (label(lang), n_by_lang[lang], *(c.get(f, 0) for f in names)) for lang, c in sorted(per_lang.items())
        ]))
        out.append("</div>")
    else:
        out.append('<p class="note">No article was flagged.</p>')
    tflags: dict[str, Counter[str]] = defaultdict(Counter)
    for t in translations:
        counts = tflags[str(t.get("target_lang"))]
        counts["translations"] += 1
        for f in _flags(t):
            counts[f] += 1
    names = sorted({f for c in tflags.values() for f in c if f != "translations"})
    if names:
        out.append("<p>Translations flagged, by target language:</p>" + _table(
            ("target language", "translations", *names),
            [(label(lang), c["translations"], *(c.get(f, 0) for f in names)) for lang, c in sorted(tflags.items())],
        ))
    out.append(_faithfulness(articles, per_lang))
    return "".join(out)


def _faithfulness(articles: Sequence[Mapping[str, Any]], per_lang: Mapping[str, Counter[str]]) -> str:
    out = ["<h2>Faithfulness per language</h2>"]
    checked = any("unsupported" in a for a in articles) or any(f in FAITHFULNESS_FLAGS for c in per_lang.values() for f in c)
    if not checked:
        out.append('<p class="note">This output has no faithfulness columns (flags <code>unsupported_number</code>, '
                   "<code>unsupported_name</code>, column <code>unsupported</code>).</p>")
        return "".join(out)
    n_by_lang = Counter(str(a.get("lang") or "und") for a in articles if a.get("status") == "ok")
    rows = []
    for lang in sorted(n_by_lang):
        c = per_lang.get(lang, Counter())
        n = n_by_lang[lang]
        rows.append((label(lang), n, *(f"{c.get(f, 0)} ({100 * c.get(f, 0) / n:.0f}%)" for f in FAITHFULNESS_FLAGS)))
    out.append(_table(("language", "summaries", *FAITHFULNESS_FLAGS), rows))
    examples = [(a.get("id"), a.get("lang"), ", ".join(map(str, a.get("unsupported") or []))) for a in articles if a.get("unsupported")]
    if examples:
        out.append("<p>Unsupported items (first 20):</p>" + _table(("article", "lang", "items"), examples[:20], numeric_from=9))
    return "".join(out)


def _distributions(articles: Sequence[Mapping[str, Any]], translations: Sequence[Mapping[str, Any]]) -> str:
    out = ["<h2>Summary length per language</h2>"]
    lengths: dict[str, list[float]] = defaultdict(list)
    for a in articles:
        if a.get("status") == "ok" and a.get("summary_tokens") is not None:
            lengths[str(a.get("lang"))].append(float(a["summary_tokens"]))
    out.append(boxplots(lengths, "summary length (tokens)") if lengths else '<p class="note">No summaries.</p>')
    out.append("<h2>Confidence per language</h2>")
    conf: dict[str, list[float]] = defaultdict(list)
    for a in articles:
        if a.get("summary_logprob") is not None:
            conf[str(a.get("lang"))].append(float(a["summary_logprob"]))
    tconf: dict[str, list[float]] = defaultdict(list)
    for t in translations:
        if t.get("logprob") is not None:
            tconf[str(t.get("target_lang"))].append(float(t["logprob"]))
    if conf:
        out.append(boxplots(conf, "summary: mean token log-probability (higher is more confident)"))
    if tconf:
        out.append(boxplots(tconf, "translations by target language: mean token log-probability"))
    if not conf and not tconf:
        out.append('<p class="note">This output has no confidence columns (<code>summary_logprob</code>, '
                   "translations <code>logprob</code>).</p>")
    return "".join(out)


def _processed(manifest: Mapping[str, Any], articles: Sequence[Mapping[str, Any]]) -> int:
    """Articles this session worked on: a resumed run's earlier articles took none of its time."""
    return max(0, len(articles) - int(manifest.get("resumed") or 0))


def _durations(manifest: Mapping[str, Any], articles: Sequence[Mapping[str, Any]], translations: Sequence[Mapping[str, Any]]) -> str:
    out = ["<h2>Durations and throughput</h2>"]
    durations = [float(a["duration_ms"]) for a in articles if a.get("duration_ms") is not None]
    seconds = manifest.get("seconds") or 0
    in_tok = sum(int(a.get("input_tokens") or 0) for a in articles)
    out_tok = sum(int(a.get("summary_tokens") or 0) for a in articles)
    rows = [
        ("wall time (s)", _num(float(seconds), 1) if seconds else "–"),
        ("articles per second", _num(_processed(manifest, articles) / seconds, 2) if seconds else "–"),
        ("translations per second", _num(len(translations) / seconds, 2) if seconds else "–"),
        ("input tokens per second", _num(in_tok / seconds, 0) if seconds else "–"),
        ("summary tokens per second", _num(out_tok / seconds, 0) if seconds else "–"),
        ("median time per article (ms)", _num(median(durations), 0) if durations else "–"),
        ("mean time per article (ms)", _num(fmean(durations), 0) if durations else "–"),
    ]
    out.append('<div class="row">')
    if durations:
        out.append(histogram(durations, "time per article (ms, its share of batched work)"))
    out.append(_table(("", "value"), rows))
    out.append("</div>")
    return "".join(out)


def _models(manifest: Mapping[str, Any]) -> str:
    models = manifest.get("models") or {}
    rows = [(m, i.get("task"), i.get("family"), i.get("revision") or "–", i.get("licence"),
             "yes" if i.get("noncommercial") else "no") for m, i in models.items()]
    note = ""
    if any(i.get("noncommercial") for i in models.values()):
        note = '<p class="warn">A model of this run is licensed for non-commercial use only.</p>'
    return ("<h2>Models and licences</h2>" + note
            + (_table(("model", "task", "family", "revision", "licence", "non-commercial"), rows, numeric_from=9)
               if rows else '<p class="note">run.json lists no model.</p>'))


def _output(group: Mapping[str, Any]) -> str:
    return "summary" if group["task"] == "summary" else f"{group['field']} translation"


def _eval(groups: Sequence[Mapping[str, Any]] | None, source: str) -> str:
    if groups is None:
        return ""
    metrics = ("rouge1", "rouge2", "rougeL", "chrf", "bleu")
    rows = [(_output(g), label(str(g["lang"])), g.get("scored", "–"), g.get("missing", "–"),
             *(_num(g.get(m), 2) for m in metrics)) for g in groups]
    chart_groups = [{**g, "label": f"{_output(g)}: {label(str(g['lang']))}"} for g in groups if g.get("rougeL") is not None]
    chart = grouped_bars(chart_groups, ("rougeL", "chrf", "bleu"), "score (0-100)") if chart_groups else ""
    return (f"<h2>Evaluation against references</h2><p class=\"note\">{_esc(source)}</p>" + chart
            + _table(("output", "language", "scored", "missing", "ROUGE-1", "ROUGE-2", "ROUGE-L", "chrF++", "BLEU"), rows, numeric_from=2))


def eval_groups(records: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Eval scores for the report: `summarize eval --json` groups as they are, or eval.parquet rows
    averaged per task, field and language (chrF++ and BLEU then are means of sentence scores)."""
    if not records or "scored" in records[0]:
        return [dict(r) for r in records], "Scores from summarize eval (ROUGE: mean F1; chrF++ and BLEU: corpus scores)."
    by: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        by[(str(r["task"]), str(r["field"]), str(r["lang"]))].append(r)
    groups = [
        {"task": t, "field": f, "lang": lang, "scored": len(rs),
         **{m: fmean(float(r[m]) for r in rs) for m in ("rouge1", "rouge2", "rougeL", "chrf", "bleu")}}
        for (t, f, lang), rs in sorted(by.items())
    ]
    return groups, "Means of per-article scores from eval.parquet (chrF++ and BLEU per sentence)."


def _samples(articles: Sequence[Mapping[str, Any]]) -> str:
    first: dict[str, Mapping[str, Any]] = {}
    for a in articles:
        if a.get("status") == "ok" and a.get("summary"):
            first.setdefault(str(a.get("lang")), a)
    rows = [(label(lang), a.get("id"), re.sub(r"\s+", " ", str(a["summary"]))[:240]) for lang, a in sorted(first.items())]
    return "<h2>One summary per language</h2>" + _table(("language", "article", "summary"), rows, numeric_from=9) if rows else ""


def render(manifest: Mapping[str, Any], articles: Sequence[Mapping[str, Any]], translations: Sequence[Mapping[str, Any]],
           rejects: int = 0, eval_records: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The whole report page for one run, as an HTML string with everything inline."""
    evaluated = eval_groups(eval_records) if eval_records is not None else None
    title = f"summarize run {manifest.get('run_id', '')}"
    with _matplotlib().rc_context(RC):
        return "\n".join(_page(title, manifest, articles, translations, rejects, evaluated))


def _page(title: str, manifest: Mapping[str, Any], articles: Sequence[Mapping[str, Any]],
          translations: Sequence[Mapping[str, Any]], rejects: int, evaluated: tuple[list[dict[str, Any]], str] | None) -> list[str]:
    return [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>',
        f"<style>{CSS}</style></head><body><h1>{_esc(title)}</h1>",
        f'<p class="note">Output folder {_esc(manifest.get("out_dir"))}.</p>',
        _run_section(manifest, articles, rejects),
        _languages_section(articles),
        _flags_section(articles, translations),
        _distributions(articles, translations),
        _durations(manifest, articles, translations),
        _models(manifest),
        _eval(evaluated[0], evaluated[1]) if evaluated else "",
        _samples(articles),
        "</body></html>",
    ]


def write_report(out_dir: str | Path, html_path: str | Path, eval_file: str | Path | None = None) -> Path:
    """Read a run's output folder (and optional eval scores) and write its report page.

    Without `eval_file`, `OUT/eval.json` (written by `summarize eval`) is shown when it exists.
    """
    from .evalfiles import read_eval, read_report_tables

    out = Path(out_dir)
    manifest, articles, translations, rejects = read_report_tables(out)
    records: list[dict[str, Any]] | None = None
    if eval_file is not None:
        records, _ = read_eval(eval_file)
    elif (out / "eval.json").is_file():
        found, scored_run = read_eval(out / "eval.json")
        # --overwrite leaves an older run's eval.json behind: show only scores of this run.
        if scored_run == manifest.get("run_id"):
            records = found
        else:
            log.warning("%s scores run %s, not this run %s: not shown", out / "eval.json", scored_run, manifest.get("run_id"))
    page = render(manifest, articles, translations, rejects, records)
    target = Path(html_path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(target)
    except OSError as e:
        raise OutputError(f"cannot write the report {target}: {e.strerror or e}") from e
    return target
