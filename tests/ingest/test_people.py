from tests.conftest import FIXTURES, read_all
from worksignal.ingest import Source, detect
from worksignal.ingest.people import PeopleDirectory


def test_directory_rows_and_bad_rows():
    path = FIXTURES / "people.csv"
    assert detect(Source(path)).name == "people"
    people, quarantined = read_all(PeopleDirectory(), path)
    assert [p["identity"] for p in people] == ["Alice.Example@acme.example", "bob@acme.example", "carol@acme.example"]
    assert [p["opted_out"] for p in people] == [False, False, True]
    assert people[1]["manager"] == "alice.example@acme.example"
    assert sorted(q.reason for q in quarantined) == ["bad_field_type", "missing_field"]
