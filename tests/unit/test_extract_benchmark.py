"""The extraction benchmark's scoring: trafilatura's test assertions read as strings, pages scored by words."""

from __future__ import annotations

from benchmarks.extract import word_score
from benchmarks.trafilatura_realworld import expectations

SOURCE = """
MOCK_PAGES = {'https://a.example/x': 'a.html', 'https://b.example/y': 'b.html', 'https://c.example/z': 'c.html'}

def load_mock_page(url, xml_flag=False):
    return ''

def test_extract(xmloutput):
    result = load_mock_page('https://a.example/x', xmloutput)
    assert 'Article one' in result and 'Impressum' not in result
    if xmloutput is False:
        assert 'Second part' in result
    result = load_mock_page('https://b.example/y', xmloutput)
    assert 'Either' in result or 'Or' in result
    assert len(result) > 10
    result = load_mock_page('https://c.example/z', xmloutput)
    assert 'Menu' not in result and 'Menu' not in result
"""


def test_assertions_become_article_and_boilerplate_strings_of_their_page() -> None:
    # `and` joins strings; an `or` or a length says nothing about one string; a page left with
    # none is not scored; an `if` block's assertions count; repeats count once.
    assert expectations(SOURCE) == {
        "a.html": {"with": ["Article one", "Second part"], "without": ["Impressum"]},
        "c.html": {"with": [], "without": ["Menu"]},
    }


def test_pages_are_scored_by_their_words_with_each_character_of_unspaced_scripts_a_word() -> None:
    gold = {"en": "The council met on Tuesday.", "zh": "港特首道歉"}
    exact = word_score({"en": "the council met on tuesday", "zh": "港特首道歉"}, gold)
    assert exact == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    # Chrome doubles the words (precision halves); a missing half of the Chinese costs recall.
    got = word_score({"en": "The council met on Tuesday. Home News Sport Login Share", "zh": "港特"}, gold)
    assert got["precision"] == round((5 / 10 + 1.0) / 2, 3) and got["recall"] == round((1.0 + 2 / 5) / 2, 3)


DATE_SOURCE = """
MOCK_PAGES = {'https://a.example/': 'a.html', 'https://b.example/': 'b.html', 'https://c.example/': 'c.html',
              'https://d.example/': 'd.html'}

def test_exact_date():
    assert find_date(load_mock_page('https://a.example/')) == '2019-04-03'
    assert find_date(load_mock_page('https://a.example/'), original_date=True) == '2017-08-21'
    assert find_date(load_mock_page('https://b.example/'), extensive_search=False) is None
    assert find_date(load_mock_page('https://b.example/')) == '2016-05-22'
    assert find_date(load_mock_page('https://c.example/'), outputformat='%d %B %Y') == '06 December 2025'
    assert search_page(load_mock_page('https://d.example/'), OPTIONS) is None
"""


def test_htmldate_assertions_give_one_expected_date_a_page() -> None:
    from benchmarks.page_dates import assertions, expected_dates

    pages, found, other = assertions(DATE_SOURCE)
    chosen, excluded = expected_dates(pages, found, {"a.html", "b.html", "c.html", "d.html"})
    # The publication date (original_date=True) wins over the updated one; of a strict and a default
    # search, the default's; a date in another output format is read back as ISO.
    assert {name: c["expected"] for name, c in chosen.items()} == {
        "a.html": "2017-08-21", "b.html": "2016-05-22", "c.html": "2025-12-06",
    }
    assert chosen["a.html"]["kind"] == "original" and chosen["a.html"]["test_distinguishes"]
    assert chosen["b.html"]["strict_search_finds_none"] and not excluded
    # A page used otherwise than by find_date is said, not silently scored.
    assert [o["url"] for o in other] == ["https://d.example/"]
