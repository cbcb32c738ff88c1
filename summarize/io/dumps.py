"""Text dumps of scraped pages: their header lines become metadata, their chrome lines go.

A page saved as text typically starts with a header (a section label, the headline, a date line,
a byline, a syndication line such as "This content originally appeared on ...") and keeps the
page's chrome between its paragraphs ("Advertisement", "Read more", "Share", "list of 3 items"
... "end of list"). None of it is article text, and all of it would be summarized and translated.

No library does this for plain text (extractors such as trafilatura work on the markup, which a
dump no longer has), so the rules are here, kept narrow on purpose:

* a header is recognised only where a date line (any language, `dates.parse_date`) sits among
  the first few short lines, so ordinary articles are left alone; for a `.txt` file without a
  date line, a short first line followed by a blank line and then a sentence is still its headline
  (a dump of a whole page starts with its menu, one short line after another);
* a chrome line is removed only when the whole line is a known phrase (one list for every
  language the project reads), never a sentence that contains one;
* every line removed is kept, in order, in `Dump.removed`, and flagged (`header_parsed`,
  `chrome_removed`), so a user sees exactly what the models did not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text import UNSPACED
from .dates import parse_date

# Whole lines that are page chrome, case-folded, in the languages the project reads.
_CHROME_PHRASES = """
advertisement|advertisment|advert|ad|ads|sponsored|sponsored content|paid content|promoted|
advertisement - scroll to continue|scroll to continue with content|story continues below advertisement|
article continues below advertisement|article continues below|continue reading below|
anzeige|werbung|publicité|publicite|pub|publicidad|anuncio|pubblicità|publicidade|advertentie|annons|annonce|
reklame|annonse|reklama|inzerce|reklám|mainos|реклама|reklam|iklan|إعلان|اعلان|تبلیغات|广告|廣告|広告|광고|quảng cáo|
विज्ञापन|διαφήμιση|פרסומת|publicitate|
read more|read more here|continue reading|read the full story|read full story|read full article|read next|
related|related articles|related stories|related content|more on this story|recommended|recommended stories|
most read|most popular|trending|trending now|top stories|more stories|you may also like|
weiterlesen|mehr lesen|mehr zum thema|lesen sie auch|auch interessant|das könnte sie auch interessieren|
lire la suite|lire aussi|à lire aussi|a lire aussi|sur le même sujet|leer más|seguir leyendo|lee también|
noticias relacionadas|leia mais|leia também|continua a leggere|leggi anche|leggi tutto|lees meer|lees ook|
läs mer|läs också|læs mere|læs også|les mer|les også|czytaj więcej|czytaj też|czytaj także|čtěte také|čítajte aj|
читать далее|читайте также|читать полностью|читайте також|читати далі|devamını oku|ilginizi çekebilir|
baca juga|baca selengkapnya|baca lagi|اقرأ أيضا|اقرأ أيضاً|اقرأ المزيد|阅读更多|阅读全文|相关新闻|続きを読む|
関連記事|더보기|기사 더보기|관련기사|관련 기사|xem thêm|đọc thêm|tin liên quan|और पढ़ें|यह भी पढ़ें|
διαβάστε επίσης|διαβάστε περισσότερα|קרא עוד|קראו עוד|citește și|citește mai mult|tovább|lue lisää|lue myös|
share|share this|share this article|share this story|share this page|share article|share story|
share on facebook|share on twitter|share on x|share on whatsapp|share on linkedin|share via email|share via e-mail|
facebook|twitter|whatsapp|linkedin|pinterest|telegram|reddit|email|e-mail|print|copy link|copy link to clipboard|
link copied|comments|comment|tweet|
teilen|artikel teilen|drucken|kommentare|partager|partager cet article|imprimer|commentaires|compartir|
compartir en facebook|compartir en twitter|imprimir|comentarios|condividi|stampa|commenti|compartilhar|compartilhe|
comentários|delen|dela|del|udostępnij|sdílet|zdieľať|поделиться|поділитися|комментарии|paylaş|yorumlar|
bagikan|kongsi|komentar|مشاركة|شارك|تعليقات|分享|评论|シェア|コメント|공유|공유하기|댓글|chia sẻ|bình luận|शेयर|
κοινοποίηση|שתף|distribuie|megosztás|jaa|
skip to content|skip to main content|skip to navigation|skip to main navigation|jump to content|
zum inhalt springen|zum hauptinhalt springen|direkt zum inhalt|aller au contenu|aller au contenu principal|
passer au contenu|saltar al contenido|ir al contenido|ir al contenido principal|vai al contenuto|salta al contenuto|
pular para o conteúdo|ir para o conteúdo|naar de inhoud|ga naar inhoud|ga direct naar inhoud|hoppa till innehållet|
gå til indhold|gå til innhold|przejdź do treści|přejít na obsah|preskočiť na obsah|перейти к содержанию|
перейти к основному содержанию|перейти до змісту|içeriğe geç|içeriğe atla|langsung ke konten|lompat ke konten|
الانتقال إلى المحتوى|انتقل إلى المحتوى|跳到主要内容|跳转到内容|跳至内容|本文へスキップ|本文へ移動|본문 바로가기|
chuyển đến nội dung|सामग्री पर जाएं|μετάβαση στο περιεχόμενο|דלג לתוכן|sari la conținut|ugrás a tartalomhoz|
siirry sisältöön|
end of list|fin de la liste|ende der liste|fin de la lista|fine dell'elenco|fim da lista
"""
_CHROME = frozenset(p.strip() for p in _CHROME_PHRASES.replace("\n", "").split("|") if p.strip())
_CHROME_PATTERN = re.compile(
    r"^(?:list of \d+ items?|list \d+ of \d+|\d+\s*min(?:ute)?s?\s+read|lesezeit:?\s*\d+\s*min(?:uten)?|"
    r"\d+\s*(?:comments?|kommentare|commentaires|comentarios|commenti|comentários)|"
    r"share (?:on|via) \w+|follow us on \w+)$"
)
_LIST_START = re.compile(r"^list of (\d+) items?$")
_LIST_END = "end of list"
# Trimmed from both ends of a line before it is compared: bullets, arrows, pipes and the like.
_TRIM = " \t\u00a0-–—•·|>»›→←<«‹:：.…()[]*_#"
# "This content originally appeared on X", "Source: X", "Quelle: X", "来源：X": the outlet.
_SOURCE = re.compile(
    r"^(?:this (?:content|article|story) (?:originally )?(?:appeared|was (?:originally )?published) (?:on|in|at|by)|"
    r"originally (?:appeared|published) (?:on|in|at|by)|first published (?:on|in|by)|republished from|"
    r"source|quelle|fuente|fonte|fonti|bron|källa|kilde|źródło|zdroj|источник|джерело|kaynak|sumber|"
    r"المصدر|منبع|来源|來源|出典|출처|nguồn|स्रोत|πηγή|מקור|sursa|forrás|lähde)\s*[:：]?\s*(.{2,120}?)\.?$",
    re.IGNORECASE,
)
_BYLINE = re.compile(
    r"^(?:by|von|par|por|di|door|av|af|przez|oleh|yazan|автор|author|autor|autora|auteur|written by|"
    r"reporting by|text|texto|testo)\s*[:：]?\s+([^.!?:]{2,80})$",
    re.IGNORECASE,
)
_HEADER_LINES = 6  # a header is in the first few lines of a dump
_HEADLINE_MAX = 200  # characters; a longer first line is a paragraph
_LABEL_MAX_WORDS = 5  # "World News", "Politik", "Économie": a section label is a few words
_DENSE_HEADLINE_MAX = 64  # characters of a headline in a script written without spaces
_PROSE_WORDS = 5  # "The council voted on Tuesday.": the fewest words of an article's sentence
_PROSE_CHARS = 10  # the same for Chinese, Japanese or Thai, written without spaces
_SENTENCE_ENDS = frozenset(".!?…。！？।۔؟")
_CLOSERS = "\"'”’»)]）」』"


@dataclass(frozen=True, slots=True)
class Dump:
    """A text dump read: the article's text and what its header and chrome lines held.

    Attributes:
        text: The text without header and chrome lines.
        title: The headline of the header, if one was recognised.
        published: The date line, as written (parsed later with the text's language).
        author: The byline's name(s), if the header had one.
        site_name: The outlet a syndication or source line names.
        removed: Every line taken out of the text, in order, as written.
        flags: `header_parsed`, `chrome_removed`.
    """

    text: str
    title: str | None = None
    published: str | None = None
    author: str | None = None
    site_name: str | None = None
    removed: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


def _key(line: str) -> str:
    return " ".join(line.strip(_TRIM).casefold().split())


def is_chrome(line: str) -> bool:
    """Whether a whole line is page chrome ("Advertisement", "Read more", "Share", ...)."""
    key = _key(line)
    return bool(key) and (key in _CHROME or _CHROME_PATTERN.match(key) is not None)


def _is_date_line(line: str, lang: str | None) -> bool:
    return len(line) <= 80 and parse_date(line, lang) is not None


def clean_dump(text: str, *, headline: bool = False, lang: str | None = None) -> Dump:
    """The article of a text dump: header lines to metadata, standalone chrome lines removed.

    `headline`: a short first line followed by a blank line and a sentence is the headline even
    without a date line (for `.txt` files, whose first line is their title by convention). `lang`: the text's
    language when known, tried first for the date line.
    """
    lines = text.splitlines()
    drop: set[int] = set()
    meta = _header(lines, headline=headline, lang=lang)
    drop.update(meta.pop("lines", ()))
    header_lines = set(drop)
    chrome = _chrome(lines, drop)
    if len(chrome) == sum(1 for i, line in enumerate(lines) if line.strip() and i not in drop):
        chrome = []  # nothing but "chrome" is not a page's chrome around an article: the text stays
    drop.update(chrome)
    if not drop:
        return Dump(text)
    removed = tuple(lines[i].strip() for i in sorted(drop))
    kept = "\n".join("" if i in drop else line for i, line in enumerate(lines))
    kept = re.sub(r"\n[ \t]*(?:\n[ \t]*)+", "\n\n", kept).strip()
    flags = (("header_parsed",) if header_lines else ()) + (("chrome_removed",) if chrome else ())
    return Dump(kept, removed=removed, flags=flags, **meta)


def _header(lines: list[str], *, headline: bool, lang: str | None) -> dict:
    """Indices and values of the header's lines: label, headline, date, byline, source."""
    top = [(i, line.strip()) for i, line in enumerate(lines) if line.strip() and not is_chrome(line)][:_HEADER_LINES]
    # The header ends at the first line too long to be a header line.
    for n, (_i, line) in enumerate(top):
        if len(line) > _HEADLINE_MAX:
            top = top[:n]
            break
    out: dict = {}
    used: list[int] = []
    date_at = next((n for n, (_i, line) in enumerate(top) if _is_date_line(line, lang)), None)
    if date_at is not None:
        before = top[:date_at]
        bylines = [(i, m.group(1).strip()) for i, line in before if (m := _BYLINE.match(line))]
        rest = [(i, line) for i, line in before if i not in {b[0] for b in bylines}]
        if len(rest) > 2 or (len(rest) == 2 and len(rest[0][1].split()) > _LABEL_MAX_WORDS):
            rest, date_at = [], None  # more than label + headline before the date: not a header
        else:
            out["published"] = top[date_at][1]
            used.append(top[date_at][0])
            if rest:
                out["title"] = rest[-1][1]
                used += [i for i, _ in rest]
            if bylines:
                out["author"] = bylines[0][1]
                used += [i for i, _ in bylines]
            for i, line in top[date_at + 1:date_at + 3]:
                if (m := _SOURCE.match(line)) and "site_name" not in out:
                    out["site_name"] = m.group(1).strip()
                    used.append(i)
                elif (m := _BYLINE.match(line)) and "author" not in out:
                    out["author"] = m.group(1).strip()
                    used.append(i)
                else:
                    break
    if date_at is None:
        for i, line in top[:3]:
            if (m := _SOURCE.match(line)) and line.casefold().startswith(("this ", "originally", "first published")):
                out["site_name"] = m.group(1).strip()
                used.append(i)
                break
        if headline and top and top[0][0] not in used and _headline_alone(lines, top[0][0]):
            out["title"] = top[0][1]
            used.append(top[0][0])
    out["lines"] = used
    return out


def _headline_alone(lines: list[str], i: int) -> bool:
    """A short first line (two words at least; in a script written without spaces, 64 characters at
    most), not ending like a sentence, with a blank line and then prose after it.

    A dump of a whole page (every visible text) starts with its menu ("Home", "Toggle navigation",
    "Instagram"), one short line after another: the line after the blank one must be a sentence
    for the first line to be a headline.
    """
    line = lines[i].strip()
    if len(line) > _HEADLINE_MAX or len(line.split()) > 30 or line[-1] in ".,;:。．।۔":
        return False
    dense = len(UNSPACED.findall(line)) * 2 > len(line)  # Chinese, Japanese, Thai: written without spaces
    if (dense and len(line) > _DENSE_HEADLINE_MAX) or (not dense and len(line.split()) < 2):
        return False  # a paragraph of a dense script, or one token ("google.JPG")
    after = lines[i + 1:]
    if not after or after[0].strip():
        return False
    following = next((x.strip() for x in after if x.strip() and not is_chrome(x) and not _BYLINE.match(x.strip())), "")
    return _is_prose(following)


def _is_prose(line: str) -> bool:
    """Whether a line reads as a sentence of an article: a few words (or, in a script written
    without spaces, a few characters) ending as a sentence ends."""
    end = line.rstrip(_CLOSERS)
    long_enough = len(line.split()) >= _PROSE_WORDS or (" " not in line and len(line) >= _PROSE_CHARS)
    return long_enough and end[-1:] in _SENTENCE_ENDS


def _chrome(lines: list[str], skip: set[int]) -> list[int]:
    """Indices of chrome lines; a collapsed link list ("list of 3 items" ... "end of list") goes
    whole, with the story titles between its ends."""
    out: list[int] = []
    i = 0
    while i < len(lines):
        if i in skip:
            i += 1
            continue
        key = _key(lines[i])
        m = _LIST_START.match(key)
        if m:
            limit = i + 3 * int(m.group(1)) + 4
            end = next((j for j in range(i + 1, min(limit, len(lines))) if _key(lines[j]) == _LIST_END), None)
            if end is not None and all(len(lines[j].strip()) <= _HEADLINE_MAX for j in range(i, end)):
                out += [j for j in range(i, end + 1) if lines[j].strip()]
                i = end + 1
                continue
        if is_chrome(lines[i]):
            out.append(i)
        i += 1
    return out
