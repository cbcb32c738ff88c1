"""Text dumps (header and chrome lines) and publication dates, through the real readers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from summarize import io
from summarize.io.dates import language_order, parse_date
from summarize.io.dumps import clean_dump, is_chrome
from summarize.options import ReadOptions
from summarize.schema import Article

from ..conftest import write_jsonl

DEC6 = dt.datetime(2025, 12, 6, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", [
    "2025-12-06", "2025-12-06T00:00:00Z", "Sat, 06 Dec 2025 00:00:00 +0000", "06 December 2025", "6 décembre 2025",
    "6. Dezember 2025", "6 de diciembre de 2025", "2025年12月6日", "6 декабря 2025", "6 dicembre 2025",
    "6 de dezembro de 2025", "6 Aralık 2025", "6 grudnia 2025", "2025년 12월 6일", "6 Desember 2025",
    "Published 6 December 2025", "Publié le 6 décembre 2025", "Veröffentlicht am 6. Dezember 2025",
])
def test_dates_in_common_forms_and_languages(value: str) -> None:
    assert parse_date(value) == DEC6


def test_dates_keep_their_time_and_zone() -> None:
    assert parse_date("Sat, 06 Dec 2025 10:32:00 +0100") == dt.datetime(2025, 12, 6, 9, 32, tzinfo=dt.UTC)
    assert parse_date("Aktualisiert am 6. Dezember 2025, 10:32 Uhr") == dt.datetime(2025, 12, 6, 10, 32, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", [1765017000, 1765017000.0, "1765017000", 1765017000000, "1765017000000"])
def test_unix_times_in_seconds_or_milliseconds_are_dates(value: object) -> None:
    assert parse_date(value) == dt.datetime(2025, 12, 6, 10, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", [12345, -5, 0, 20251206, 10**400, float("nan"), float("inf"), True, "2025", "17650170001",
                                   2_100_000_000])
def test_numbers_outside_1990_to_2033_are_not_dates(value: object) -> None:
    # A count, a year, an 8-digit number (a plain date only as a string) or a number too large for
    # a float is not taken for a time, and never raises.
    assert parse_date(value) is None


def test_digits_past_the_unix_range_are_left_to_the_other_forms() -> None:
    # "2025120610" would be a Unix time in March 2034; as digits it goes to the other forms, none of
    # which reads it, and an 8-digit string is a plain date.
    assert dt.datetime.fromtimestamp(2025120610, dt.UTC).year == 2034
    assert parse_date(2025120610) is None and parse_date("2025120610") is None
    assert parse_date("20251206") == DEC6


@pytest.mark.parametrize(("value", "hour", "day"), [
    # The mail parser reads these without a word of complaint: 05:50 for "5:50 PM", and UTC for a zone
    # name it does not know. 12 and 9 hours off, and the day before in UTC.
    ("June 19, 2018 5:50 PM", 17, 19), ("June 19, 2018 5:50 PM EST", 22, 19), ("19 Jun 2018 05:50 JST", 20, 18),
    ("Tue, 19 Jun 2018 17:50:00 CEST", 15, 19),
    # what it does read right stays with it
    ("Tue, 19 Jun 2018 17:50:00 EST", 22, 19), ("Tue, 19 Jun 2018 17:50:00 +0200", 15, 19),
])
def test_a_time_of_day_and_a_named_zone_are_read_not_dropped(value: str, hour: int, day: int) -> None:
    assert parse_date(value) == dt.datetime(2018, 6, day, hour, 50, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["yesterday", "3 hours ago", "vor 2 Tagen", "December 2025", "Page 3", "hello 2025",
                                   "not a date", "", "2025-13-45"])
def test_relative_partial_and_unparseable_dates_are_none(value: str) -> None:
    # Nothing is read relative to today, and a date needs its day: the same answer on any day.
    assert parse_date(value) is None


@pytest.mark.parametrize("value", ["2025-12-06" + " " * 100_000 + "x", "Published " + "6 December 2025 " * 5_000,
                                   " -" * 50_000])
def test_a_value_longer_than_any_date_line_is_none_without_reaching_the_patterns(
        value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The tail pattern backtracks over a long run of spaces (100,000 of them took 46 s), so a value
    # longer than a date line is answered before any pattern or parser sees it.
    from summarize.io import dates

    class Refuse:
        def sub(self, *args: object, **kwargs: object) -> str:
            raise AssertionError("a value longer than a date line reached the date patterns")

    monkeypatch.setattr(dates, "_TAIL", Refuse())
    monkeypatch.setattr(dates, "_LEAD", Refuse())
    assert parse_date(value) is None
    assert parse_date(value, "fr") is None


def test_the_texts_language_decides_the_day_month_order() -> None:
    assert parse_date("06/12/2025", "fr") == DEC6
    assert parse_date("06/12/2025", "de") == DEC6
    assert parse_date("06/12/2025", "en") == dt.datetime(2025, 6, 12, tzinfo=dt.UTC)
    assert language_order("fr")[0] == "fr" and language_order(None)[0] == "en"
    assert language_order("no")[0] == "nb"  # the project's code, dateparser's name


DUMPS = {
    "en": ("World News\nFloods force thousands from their homes in Malawi\n06 December 2025\n"
           "This content originally appeared on Al Jazeera.\n\n"
           "Heavy rains have forced thousands of people from their homes in southern Malawi, officials said.\n\n"
           "Advertisement\n\nlist of 3 items\nlist 1 of 3\nStory one\nlist 2 of 3\nStory two\nlist 3 of 3\nStory three\n"
           "end of list\n\nThe disaster agency said more than 20,000 people were affected.\n\nRead more\nShare\n",
           "Floods force thousands from their homes in Malawi", "Al Jazeera", None),
    "fr": ("Monde\nInondations : des milliers de personnes évacuées au Malawi\nPublié le 6 décembre 2025\n"
           "Source : AFP\n\nDe fortes pluies ont contraint des milliers de personnes à quitter leur domicile.\n\n"
           "Publicité\n\nLes autorités ont indiqué que plus de 20 000 personnes étaient touchées.\n\nLire aussi\nPartager\n",
           "Inondations : des milliers de personnes évacuées au Malawi", "AFP", None),
    "de": ("Politik\nBundestag beschließt neues Klimagesetz\n6. Dezember 2025\nVon Anna Schmidt\n\n"
           "Der Bundestag hat am Freitag ein neues Klimagesetz beschlossen.\n\nAnzeige\n\n"
           "Die Opposition kündigte eine Klage an.\n\nWeiterlesen\nTeilen\nZum Inhalt springen\n",
           "Bundestag beschließt neues Klimagesetz", None, "Anna Schmidt"),
    "es": ("Internacional\nMiles de evacuados por las inundaciones en Malaui\n6 de diciembre de 2025\nFuente: EFE\n\n"
           "Las fuertes lluvias obligaron a miles de personas a abandonar sus hogares.\n\nPublicidad\n\n"
           "Las autoridades dijeron que más de 20.000 personas resultaron afectadas.\n\nLeer más\nCompartir\n",
           "Miles de evacuados por las inundaciones en Malaui", "EFE", None),
    "ru": ("В мире\nТысячи человек эвакуированы из-за наводнений в Малави\n6 декабря 2025\nИсточник: ТАСС\n\n"
           "Сильные дожди вынудили тысячи людей покинуть свои дома.\n\nРеклама\n\n"
           "По данным властей, пострадали более 20 000 человек.\n\nЧитайте также\nПоделиться\n",
           "Тысячи человек эвакуированы из-за наводнений в Малави", "ТАСС", None),
    "zh": ("国际\n马拉维洪水迫使数千人撤离\n2025年12月6日\n来源：新华社\n\n马拉维南部暴雨迫使数千人离开家园。\n\n广告\n\n"
           "当局表示，受灾人数超过两万。\n\n阅读更多\n分享\n",
           "马拉维洪水迫使数千人撤离", "新华社", None),
}


@pytest.mark.parametrize("lang", sorted(DUMPS))
def test_dump_header_and_chrome_in_six_languages(tmp_path: Path, lang: str) -> None:
    dump, title, site, author = DUMPS[lang]
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": lang, "text": dump}])
    (art,) = io.read_records([str(f)], ReadOptions())
    assert isinstance(art, Article)
    assert art.title == title and art.site_name == site and art.author == author
    assert parse_date(art.published) == DEC6
    lines = [x.strip() for x in dump.splitlines() if x.strip()]
    body = [x for x in lines if x not in art.removed]
    # What is left is the article's paragraphs, exactly, and nothing was lost: text + removed = dump.
    assert art.text == "\n\n".join(body)
    assert sorted([*art.text.split("\n\n"), *art.removed]) == sorted(lines)
    assert len(body) == 2 and {"header_parsed", "chrome_removed"} <= set(art.flags)
    # --extract none turns all of it off.
    (raw,) = io.read_records([str(f)], ReadOptions(extract="none"))  # type: ignore[arg-type]
    assert isinstance(raw, Article) and raw.text == dump and raw.title is None and raw.removed == ()
    assert not {"header_parsed", "chrome_removed"} & set(raw.flags)


def test_ordinary_articles_are_left_alone() -> None:
    for text in (
        "The council met on Tuesday.\n\nShare prices rose after the vote.\n\nRead more about it on our site, she said.",
        "On 6 December 2025 the council voted to close Mill Road to through traffic, ending a long dispute.\n\nMore.",
        "Short line\nAnother short line\nA third one\n\nA paragraph that follows them without any date line at all.",
    ):
        d = clean_dump(text)
        assert d.text == text and d.removed == () and d.flags == () and d.title is None


def test_chrome_is_a_whole_line_not_a_word_in_a_sentence() -> None:
    assert is_chrome("Advertisement") and is_chrome("  SHARE  ") and is_chrome("Read more »") and is_chrome("list of 12 items")
    assert is_chrome("Skip to main content") and is_chrome("Zum Inhalt springen") and is_chrome("本文へスキップ")
    assert not is_chrome("Share prices fell.") and not is_chrome("Advertisement spending rose 5%")
    # A text that is nothing but such a line has no article around it to clean: it stays as it is.
    assert clean_dump("Share").text == "Share" and clean_dump("Read more\n\nShare").removed == ()


def test_a_dump_of_a_whole_page_does_not_make_its_menu_the_title() -> None:
    # Every visible text of a page, as a scraper saves it: the menu comes first, one short line after
    # another. A first line is a headline only when a sentence follows it (a byline may come between).
    body = "The city council voted on Tuesday to close Mill Road to through traffic from next spring."
    menu = f"Toggle navigation\n\nHome\n\nNews\n\nInstagram\n\n{body}\n"
    assert clean_dump(menu, headline=True).title is None and "header_parsed" not in clean_dump(menu, headline=True).flags
    for first_paragraph in (body, f"By Jane Doe\n\n{body}", "“We had no choice,” the mayor said.",
                            "市议会周二投票决定从明年春天起禁止车辆通行。"):
        got = clean_dump(f"Council closes Mill Road\n\n{first_paragraph}\n", headline=True)
        assert got.title == "Council closes Mill Road" and "header_parsed" in got.flags, first_paragraph


def test_an_ordinary_articles_first_paragraph_is_not_taken_for_its_headline() -> None:
    # Clean article text saved as .txt, with no headline line: its lead must stay in the text.
    zh = "市议会周二投票决定，从明年春天起禁止车辆穿行磨坊路。\n\n店主们担心顾客会因此减少，但议会援引的调查显示，多数访客步行或骑车前来。\n"
    zh_long = ("新华社北京12月6日电 记者6日从市议会获悉，磨坊路将从明年春天起禁止车辆穿行，公交车、自行车和急救车辆仍可通过"
               "铁路桥附近的新闸门。\n\n店主们担心顾客会因此减少。\n")
    image = "council.JPG\n\nThe city council voted on Tuesday to close Mill Road to through traffic.\n"
    for text in (zh, zh_long, image):
        got = clean_dump(text, headline=True)
        assert got.title is None and not got.removed and got.text.strip() == text.strip(), text
    # A headline of a script written without spaces is still one.
    got = clean_dump("市议会关闭磨坊路\n\n市议会周二投票决定，从明年春天起禁止车辆穿行磨坊路。\n", headline=True)
    assert got.title == "市议会关闭磨坊路"


def test_txt_file_first_line_is_its_title_and_an_input_title_wins(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("Council closes Mill Road\n\nThe council voted on Tuesday.\n\nAdvertisement\n", encoding="utf-8")
    (art,) = io.read_records([str(folder)], ReadOptions())
    assert isinstance(art, Article) and art.title == "Council closes Mill Road"
    assert art.text == "The council voted on Tuesday." and art.removed == ("Council closes Mill Road", "Advertisement")
    # A text column's record gives its own title: the dump's headline line still goes, the title stays.
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "title": "Given", "text": DUMPS["en"][0]}])
    (rec,) = io.read_records([str(f)], ReadOptions())
    assert isinstance(rec, Article) and rec.title == "Given" and "Floods force" not in rec.text
