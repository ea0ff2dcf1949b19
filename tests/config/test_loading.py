"""Config validation: one fixture in tests/data/config and one exact message per rule.

Messages are compared whole, file and line included: the line is how an HR officer finds the
mistake, so a wrong line is a failing test. Fixtures are loaded by relative name from their own
folder, as `vaern check -c NAME` would be run there.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path

import pytest

from vaern.config import Config, Contact, Follow, Network, Person, Site, Smtp, Unit, load_config
from vaern.config.summary import summary, warnings_for
from vaern.errors import ConfigError, ConfigProblem

DATA = Path(__file__).parent.parent / "data" / "config"
ROOT = Path(__file__).parent.parent.parent
SECRET = "s3cr3t-Pa55!wörd"

# rule -> (fixture, every line of the error, in order)
BAD: dict[str, tuple[str, list[str]]] = {
    "unknown key, top level": (
        "unknown_key_top.yaml",
        ["unknown_key_top.yaml:3: smpt: unknown key (did you mean 'smtp'?)"],
    ),
    "unknown key, nested": (
        "unknown_key_nested.yaml",
        ["unknown_key_nested.yaml:6: sites[0].follow.max_deph: unknown key (did you mean 'max_depth'?)"],
    ),
    "wrong type": (
        "wrong_type.yaml",
        ["wrong_type.yaml:4: smtp.port: expected a whole number, got 'to-og-tyve'"],
    ),
    "unknown unit, yaml": (
        "unknown_unit.yaml",
        ["unknown_unit.yaml:12: people[1].unit: unknown unit 'born-familie' (did you mean 'boern-familie'?)"],
    ),
    "unknown unit, people_csv": (
        "unknown_unit_csv.yaml",
        ["unknown_unit_csv.csv:3: people_csv[1].unit: unknown unit 'jobcentret' (did you mean 'jobcenter'?)"],
    ),
    "duplicate unit id": (
        "duplicate_unit_id.yaml",
        [
            "duplicate_unit_id.yaml:6: units[1].id: duplicate id 'jobcenter' "
            "(already used by units[0] at duplicate_unit_id.yaml:3)"
        ],
    ),
    "duplicate person id": (
        "duplicate_person_id.yaml",
        [
            "duplicate_person_id.yaml:7: people[2].id: duplicate id 'rr' "
            "(already used by people[0] at duplicate_person_id.yaml:3)"
        ],
    ),
    "duplicate site id": (
        "duplicate_site_id.yaml",
        [
            "duplicate_site_id.yaml:5: sites[1].id: duplicate id 'forum' "
            "(already used by sites[0] at duplicate_site_id.yaml:3)"
        ],
    ),
    "duplicate person id across yaml and people_csv": (
        "duplicate_person_yaml_csv.yaml",
        [
            "duplicate_person_yaml_csv.csv:3: people_csv[1].id: duplicate id 'rr' "
            "(already used by people[0] at duplicate_person_yaml_csv.yaml:3)"
        ],
    ),
    "bad regex in follow rules": (
        "bad_regex.yaml",
        [
            "bad_regex.yaml:10: sites[0].follow.deny[1]: '[?&]page=(\\d+' is not a valid regular "
            "expression: missing ), unterminated subpattern at position 9"
        ],
    ),
    "bad normalisation rewrite and family budget": (
        "bad_normalise.yaml",
        [
            "bad_normalise.yaml:9: sites[0].normalise.rewrite[1].pattern: '/print/(\\d+' is not a valid regular "
            "expression: missing ), unterminated subpattern at position 7",
            "bad_normalise.yaml:11: sites[0].follow.max_per_family: must be at least 1, not 0",
        ],
    ),
    "bad schedule, interval": (
        "bad_interval.yaml",
        [
            "bad_interval.yaml:5: sites[0].schedule: '15 minutter' is neither an interval "
            "(30s, 15m, 2h, 1d) nor a 5-field cron expression"
        ],
    ),
    "feeds: a URL that is not http(s), an interval in words; a broken author selector": (
        "bad_feeds.yaml",
        [
            "bad_feeds.yaml:5: sites[0].feeds.urls[1]: 'ftp://blog.example/sitemap.xml' is not an http(s) URL",
            "bad_feeds.yaml:9: sites[1].feeds.every: '2 minutter' is not an interval like 30s, 15m, 2h or 1d",
            "bad_feeds.yaml:10: sites[1].author_selector: 'div[[' is not a valid CSS selector: Expected ident or "
            "'*', got <DELIM '[' at 4>",
        ],
    ),
    "alerts.policy: an unknown action": (
        "bad_policy.yaml",
        ["bad_policy.yaml:5: alerts.policy.low: must be 'immediate', 'digest' or 'none', not 'weekly'"],
    ),
    "bad schedule, cron": (
        "bad_cron.yaml",
        [
            "bad_cron.yaml:5: sites[0].schedule: '0 25 * * 1-5' is not a valid cron expression: "
            "hour '25': 25 is above the highest value 23"
        ],
    ),
    "bad e-mail, leader": (
        "bad_email_leader.yaml",
        [
            "bad_email_leader.yaml:7: units[0].leader.email: 'lene.leder(at)kommune.example' "
            "is not an e-mail address (like name@kommune.dk)"
        ],
    ),
    "bad e-mail, notify": (
        "bad_email_notify.yaml",
        [
            "bad_email_notify.yaml:8: units[0].notify[1].email: 'Tina Trolle <tina.trolle@kommune.example>': "
            "give only the address here ('tina.trolle@kommune.example'); the name has its own field"
        ],
    ),
    "bad e-mail, sender": (
        "bad_email_sender.yaml",
        [
            "bad_email_sender.yaml:4: smtp.sender: 'Værn' is not an e-mail address "
            '(like "Værn <vaern@kommune.dk>")'
        ],
    ),
    "bad e-mail, alerts": (
        "bad_email_alerts.yaml",
        [
            "bad_email_alerts.yaml:3: alerts.fallback: 'hr@kommune' is not an e-mail address "
            "(like name@kommune.dk)",
            "bad_email_alerts.yaml:6: alerts.analysts[1]: 'sikkerhed@@kommune.example' is not an "
            "e-mail address (like name@kommune.dk)",
        ],
    ),
    "start URL not http(s)": (
        "start_url_not_http.yaml",
        [
            "start_url_not_http.yaml:6: sites[0].start_urls[1]: 'ftp://filer.forum.example/' "
            "is not an http(s) URL",
            "start_url_not_http.yaml:7: sites[0].start_urls[2]: 'www.hadeside.example/' "
            "is not an http(s) URL (start it with https://)",
        ],
    ),
    "missing environment variable": (
        "missing_env_var.yaml",
        ["missing_env_var.yaml:5: smtp.password: environment variable VAERN_TEST_UNSET_PASSWORD is not set"],
    ),
    "yaml syntax: line without ':'": (
        "yaml_syntax.yaml",
        ["yaml_syntax.yaml:2: (yaml): this line has no ':' (expected key: value)"],
    ),
    "yaml syntax: tab": (
        "yaml_tab.yaml",
        ["yaml_tab.yaml:4: (yaml): a tab character (column 1); indent with spaces, not tabs"],
    ),
    "yaml syntax: unclosed quote": (
        "yaml_unclosed_quote.yaml",
        ["yaml_unclosed_quote.yaml:1: (yaml): a quote opened on this line is never closed"],
    ),
    "yaml syntax: ': ' inside a value": (
        "yaml_colon_in_value.yaml",
        [
            "yaml_colon_in_value.yaml:4: (yaml): unexpected ':' (column 26); put a value that holds ': ' "
            "or ends in ':' in quotes, like name: \"Børn: Familie\""
        ],
    ),
    "yaml syntax: indentation": (
        "yaml_indentation.yaml",
        ["yaml_indentation.yaml:4: (yaml): the indentation does not line up with the lines above"],
    ),
    "yaml syntax: backslash in double quotes": (
        "yaml_escape.yaml",
        [
            "yaml_escape.yaml:6: (yaml): found unknown escape character 'd' (column 24); inside double "
            "quotes a backslash starts an escape: put a regular expression in single quotes instead"
        ],
    ),
    "yaml: non-breaking space in indentation": (
        "nbsp_key.yaml",
        [
            "nbsp_key.yaml:4: '\\xa0\\xa0port': unknown key (it holds a stray or non-breaking space; "
            "retype it with plain spaces)"
        ],
    ),
    "file not UTF-8": (
        "not_utf8.yaml",
        ["not_utf8.yaml:4: (file): not UTF-8 text (byte 0xf8); save the file as UTF-8"],
    ),
    "missing required field": (
        "missing_required.yaml",
        [
            "missing_required.yaml:1: organisation: required field is missing",
            "missing_required.yaml:2: units[0].leader: required field is missing",
            "missing_required.yaml:5: sites[0].start_urls: required field is missing",
        ],
    ),
    "bad timezone": (
        "bad_timezone.yaml",
        [
            "bad_timezone.yaml:2: timezone: 'Europe/København' is not a known time zone "
            "(did you mean 'Europe/Copenhagen'?)"
        ],
    ),
    "the postgres queue on a SQLite database (workers on other machines cannot share it)": (
        "queue_on_sqlite.yaml",
        [
            "queue_on_sqlite.yaml:3: queue: the postgres queue keeps its jobs in the database, which must then "
            "be PostgreSQL (database: postgresql+psycopg://USER:PASSWORD@HOST/DATABASE), not SQLite"
        ],
    ),
    "evidence in S3 without a bucket": (
        "store_s3_without_bucket.yaml",
        ["store_s3_without_bucket.yaml:3: evidence.store: kind: s3 needs a bucket"],
    ),
    "S3 settings on the local evidence store (they would silently do nothing)": (
        "store_s3_fields_on_local.yaml",
        ["store_s3_fields_on_local.yaml:3: evidence.store: bucket, prefix: only for kind: s3 "
         "(kind: local keeps evidence in `archive`)"],
    ),
    "S3 values that cannot work": (
        "store_s3_bad_values.yaml",
        [
            "store_s3_bad_values.yaml:5: evidence.store.endpoint_url: 'minio.kommune.example:9000' is not an "
            "http(s) URL",
            "store_s3_bad_values.yaml:6: evidence.store.bucket: 'Vaern_Evidence' is not an S3 bucket name "
            "(3-63 characters: a-z, 0-9, '.', '-')",
            "store_s3_bad_values.yaml:7: evidence.store.prefix: '../other' is not a folder in the bucket "
            "(no leading '/', no '..')",
            "store_s3_bad_values.yaml:8: evidence.store.object_lock.mode: must be 'governance' or 'compliance', "
            "not 'forever'",
            "store_s3_bad_values.yaml:8: evidence.store.object_lock.retain_days: must be at least 1, not 0",
        ],
    ),
    "an S3 key without its secret": (
        "store_s3_half_credentials.yaml",
        ["store_s3_half_credentials.yaml:3: evidence.store: give both access_key_id and secret_access_key, or "
         "neither (then boto3 finds credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or its config files)"],
    ),
    "sender with a line break (it would rewrite the From header)": (
        "sender_crlf.yaml",
        [
            "sender_crlf.yaml:4: smtp.sender: 'Værn <vaern@kommune.example>\\r\\nFrom: Borgmesteren "
            "<borgmester@kommune.example>' holds a carriage return (CR); it goes into an e-mail header, "
            "which must be one line"
        ],
    ),
    "YAML aliases inside aliases (a few lines that expand to billions of values)": (
        "alias_bomb.yaml",
        [
            "alias_bomb.yaml:4: (yaml): the file expands to more than 200,000 values (aliases inside aliases?); "
            "a config needs far fewer"
        ],
    ),
}


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(DATA)
    monkeypatch.delenv("VAERN_TEST_UNSET_PASSWORD", raising=False)
    return DATA


def problems_of(name: str | Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_config(name)
    return caught.value.problems


@pytest.mark.parametrize("rule", list(BAD))
def test_bad_config_gives_exact_message(rule: str, in_data: Path) -> None:
    fixture, expected = BAD[rule]
    with pytest.raises(ConfigError) as caught:
        load_config(fixture)
    assert [str(p) for p in caught.value.problems] == expected
    assert str(caught.value) == "\n".join(expected)


@pytest.mark.parametrize("rule", list(BAD))
def test_line_is_the_offending_key_or_item(rule: str, in_data: Path) -> None:
    """Beyond the exact number: the line named holds the key (or list item) the path ends in."""
    for problem in problems_of(BAD[rule][0]):
        if problem.message == "required field is missing" or problem.path.startswith("("):
            continue  # a missing key has no line of its own; syntax errors are checked above
        text = (DATA / problem.file).read_text(encoding="utf-8").splitlines()[problem.line - 1]
        if problem.file.endswith(".csv"):
            # A CSV row: the line holds the value the message quotes first.
            value = re.search(r"'([^']*)'", problem.message)
            assert value is not None and value.group(1) in text, (problem, text)
            continue
        last = re.split(r"[.\[]", problem.path)[-1]
        if last.endswith("]"):
            assert text.lstrip().startswith("-") or "[" in text, (problem, text)
        else:
            assert last.strip("'").replace("\\xa0", "\xa0") in text, (problem, text)


def test_several_errors_are_all_reported_in_line_order(in_data: Path) -> None:
    assert [str(p) for p in problems_of("many_errors.yaml")] == [
        "many_errors.yaml:5: sites[0].start_urls[0]: 'forum.example' is not an http(s) URL "
        "(start it with https://)",
        "many_errors.yaml:6: sites[0].schedule: 'hver time' is neither an interval (30s, 15m, 2h, 1d) "
        "nor a 5-field cron expression",
        "many_errors.yaml:8: smtp.port: must be at least 1, not 0",
        "many_errors.yaml:9: smtp.starttls: expected true or false (or yes/no), got 'måske'",
        "many_errors.yaml:13: units[0].leader.email: 'lene.leder' is not an e-mail address "
        "(like name@kommune.dk)",
        "many_errors.yaml:14: units[0].colour: unknown key (allowed here: id, leader, name, notify)",
        "many_errors.yaml:18: people[0].unit: unknown unit 'boern_familie' (did you mean 'boern-familie'?)",
        "many_errors.yaml:20: timezone: 'CET+1' is not a known time zone (did you mean 'CET'?)",
        "many_errors.csv:3: people_csv[1].id: duplicate id 'rr' "
        "(already used by people[0] at many_errors.yaml:16)",
        "many_errors.csv:4: people_csv[2].id: an id may not be empty",
    ]


# ---------------------------------------------------------------------------------------------
# Secrets


def test_secret_from_environment_never_appears_in_errors(
    in_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAERN_TEST_SECRET", SECRET)
    with pytest.raises(ConfigError) as caught:
        load_config("secret.yaml")
    text = str(caught.value)
    assert text.splitlines() == [
        "secret.yaml:7: smtp.port: expected a whole number, "
        "got the value of ${VAERN_TEST_SECRET} (not shown)",
        "secret.yaml:8: smtp.sender: '${VAERN_TEST_SECRET}' is not an e-mail address "
        '(like "Værn <vaern@kommune.dk>")',
        "secret.yaml:9: smtp.helo: unknown key (allowed here: host, password, port, sender, ssl, starttls, "
        "timeout, username)",
    ]
    assert SECRET not in text and SECRET not in repr(caught.value.problems)


def test_secret_never_appears_in_summary_or_repr(in_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAERN_TEST_SECRET", SECRET)
    config = load_config("secret_valid.yaml")
    # It was substituted (else this test could not fail) ...
    assert config.smtp.password is not None and config.smtp.password.get_secret_value() == SECRET
    assert config.database == f"postgresql+psycopg://vaern:{SECRET}@db.kommune.example/vaern"
    # ... and shows nowhere a log line or a terminal would pick it up.
    for shown in (summary(config), repr(config), str(config), repr(config.smtp), config.model_dump_json()):
        assert SECRET not in shown
    assert "database: postgresql+psycopg://vaern:***@db.kommune.example/vaern" in summary(config)


def test_s3_secret_comes_from_the_environment_and_is_never_shown(
    in_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaern.storage.blobstore import S3Store
    from vaern.storage.chainlock import PostgresChainLock
    from vaern.storage.stamping import archive_for

    monkeypatch.setenv("VAERN_TEST_SECRET", SECRET)
    config = load_config("store_s3_valid.yaml")
    store = config.evidence.store
    assert store.secret_access_key is not None and store.secret_access_key.get_secret_value() == SECRET
    assert store.object_lock is not None and (store.object_lock.mode, store.object_lock.retain_days) == (
        "compliance", 3650)
    for shown in (summary(config), repr(config), config.model_dump_json()):
        assert SECRET not in shown
    archive = archive_for(config)  # builds a client; nothing is sent until evidence is stored
    assert isinstance(archive.blobs, S3Store)
    assert archive.where == "s3://vaern-evidence/vaern/"
    assert (archive.blobs.lock_mode, archive.blobs.retain_days) == ("COMPLIANCE", 3650)
    assert isinstance(archive.chain_lock, PostgresChainLock)
    assert ("  archive: s3://vaern-evidence/vaern/ at https://minio.kommune.example:9000, Object Lock compliance "
            "3650 days") in summary(config).splitlines()


# ---------------------------------------------------------------------------------------------
# What people editing by hand get wrong, accepted or explained


def test_hand_edited_values_mean_what_was_meant(in_data: Path) -> None:
    config = load_config("hr_friendly.yaml")
    assert config.smtp.starttls is True  # yes
    assert config.sites[0].autothrottle is False  # no
    assert config.sites[0].follow.max_pages == 500  # `follow:` left empty -> defaults
    assert config.alerts.digest_at == "07:30"  # 7:30 (YAML 1.1 would read 450)
    ole, dorthe = config.people
    assert ole.id == "0123"  # YAML 1.1 would read octal 83
    assert ole.name == "Ole Nielsen"  # double space from copy-paste
    assert ole.aliases == ["ON", "O. Nielsen"]  # initials ON, not True
    unit = config.units[0]
    assert (unit.leader.name, unit.leader.email) == ("Jens Jensen", "jens.jensen@kommune.example")
    assert unit.notify == []  # items commented out
    # A person without a unit is allowed: their hits go to alerts.fallback.
    assert dorthe.unit is None
    assert config.alerts.fallback == "hr@kommune.example"
    assert warnings_for(config) == []
    assert "  no unit: 1 person, alerts to hr@kommune.example" in summary(config).splitlines()


def test_person_without_unit_and_no_fallback_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "vaern.yaml"
    path.write_text("organisation: X\npeople:\n  - {id: dd, name: Dorthe Direktør}\n", encoding="utf-8")
    config = load_config(path)
    assert (
        "1 person has no unit and alerts.fallback is not set: no leader is told of their hits (dd)"
        in warnings_for(config)
    )
    assert "  no unit: 1 person, alerts to nobody" in summary(config).splitlines()


def test_hr_export_csv_with_semicolons_in_windows_1252(in_data: Path) -> None:
    raw = (DATA / "hr_export.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is what Danish Excel writes
    config = load_config("hr_export.yaml")
    assert [(p.id, p.name, p.aliases, p.unit, p.title) for p in config.people] == [
        ("1001", "Søren Østergaard", ["S. Østergaard"], "jobcenter", "sagsbehandler"),
        ("1002", "Birthe Blåbær", ["B. Blåbær", "Birthe B."], "jobcenter", None),
        ("1003", "Mads Møller", [], None, None),
    ]


def test_unit_may_be_named_by_its_name(tmp_path: Path) -> None:
    (tmp_path / "vaern.yaml").write_text(
        "organisation: X\n"
        "units:\n"
        "  - {id: bf, name: Børn og Familie, leader: {name: L, email: l@k.example}}\n"
        "people:\n"
        "  - {id: a, name: Anna A, unit: børn og familie}\n"
        "  - {id: b, name: Bo B, unit: BF}\n",
        encoding="utf-8",
    )
    assert [p.unit for p in load_config(tmp_path / "vaern.yaml").people] == ["bf", "bf"]


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        (
            "navn,afdeling\nRené,bf\n",
            "p.csv:1: people_csv: the header line lacks id and name (expected id,name,aliases,unit,title)",
        ),
        ("id,name,afdeling\nrr,René R,bf\n", "p.csv:1: people_csv.afdeling: unknown column"),
        (
            "id,name,unit\nrr,René R,\nkk,Rosenkilde, René,\n",
            "p.csv:3: people_csv[1]: the row has 4 fields but the header has 3 "
            "(a name with ',' must be in quotes)",
        ),
        ("id,name\nrr,\n", "p.csv:2: people_csv[0].name: a name may not be empty"),
        ("id,name,unitt\nrr,René R,bf\n", "p.csv:1: people_csv.unitt: unknown column (did you mean 'unit'?)"),
    ],
)
def test_people_csv_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, csv_text: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.csv").write_text(csv_text, encoding="utf-8")
    Path("vaern.yaml").write_text("organisation: X\npeople_csv: p.csv\n", encoding="utf-8")
    assert [str(p) for p in problems_of("vaern.yaml")] == [expected]


def test_people_csv_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("vaern.yaml").write_text("organisation: X\npeople_csv: hr/people.csv\n", encoding="utf-8")
    assert [str(p) for p in problems_of("vaern.yaml")] == [
        "vaern.yaml:2: people_csv: cannot read hr/people.csv: No such file or directory"
    ]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("organisation: X\nsmtp:\n  host: a\n  host: b\n", "4: smtp.host: key given twice (first on line 3)"),
        (
            "organisation: X\nsites:\n  - id: s\n    start_urls: [https://s.example/]\n    schedule: 30\n",
            "5: sites[0].schedule: '30' is neither an interval (30s, 15m, 2h, 1d) nor a 5-field cron "
            "expression (add a unit: 30m?)",
        ),
        (
            "organisation: X\nsites:\n  - id: s\n    start_urls: https://s.example/\n",
            "4: sites[0].start_urls: expected a list, got 'https://s.example/' (write [a, b] or one '- item' "
            "per line)",
        ),
        (
            "organisation: X\nunits:\n  - id: Børn og Familie\n    name: B\n    leader: l@k.example\n",
            "3: units[0].id: 'Børn og Familie': an id may hold only letters, digits, '.', '_' and '-' "
            "(no spaces)",
        ),
        ("organisation: X\nlanguage: no\n", "2: language: must be 'da' or 'en', not 'no'"),
        (
            "organisation: X\nsmtp:\n  ssl: true\n  starttls: true\n",
            "3: smtp.ssl: ssl and starttls exclude each other "
            "(ssl: true for port 465, starttls: true for port 587)",
        ),
        (
            "organisation: X\nmatching:\n  high_score: 70\n  possible_score: 80\n",
            "4: matching.possible_score: must not be above high_score (80 > 70)",
        ),
        (
            "organisation: X\ndatabase: mysql://vaern:hemmelig@db/vaern\n",
            "2: database: a 'mysql' URL; use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE",
        ),
        (
            "organisation: X\nsites:\n  - id: s\n    start_urls: [https://s.example/]\n"
            "    search_urls: [https://s.example/search]\n",
            "5: sites[0].search_urls[0]: 'https://s.example/search' has no {query} placeholder",
        ),
        (
            "organisation: X\nsmtp:\n  password: ${VAERN_SMTP_PASSWORD\n",
            "3: smtp.password: '${' must start a reference like ${NAME} (letters, digits, _); "
            "write $${ for a literal ${",
        ),
        (
            "organisation: X\nalerts:\n  digest_at: 25:00\n",
            "3: alerts.digest_at: '25:00' is not a time of day like 07:30",
        ),
        (
            "organisation: X\nsource: /etc/vaern.yaml\n",
            "2: source: unknown key (set by Værn, not in the file)",
        ),
        ("- organisation: X\n", "1: (top): the file must hold key: value lines"),
        (
            "organisation: X\n---\norganisation: Y\n",
            "2: (yaml): a second document ('---') starts here; the config is one document",
        ),
        ("organisation: X\x07\n", "1: (yaml): a control character (0x07) that a config file may not hold"),
        (
            "organisation: X\nunits:\n  - id: a\n    name:\n    leader: a@k.example\n",
            "4: units[0].name: expected text, got nothing (the value is empty)",
        ),
        ("organisation: X\nsmtp: !secret pw\n", "2: smtp: YAML tags like !secret are not supported here"),
    ],
)
def test_more_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_text: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("vaern.yaml").write_text(yaml_text, encoding="utf-8")
    messages = [str(p) for p in problems_of("vaern.yaml")]
    assert messages[0] == "vaern.yaml:" + expected
    assert "hemmelig" not in "\n".join(messages)


def test_missing_file(tmp_path: Path) -> None:
    assert [str(p) for p in problems_of(tmp_path / "nope.yaml")] == [
        f"{tmp_path / 'nope.yaml'}:0: (file): cannot read: No such file or directory"
    ]


def test_empty_file_asks_for_organisation(tmp_path: Path) -> None:
    (tmp_path / "vaern.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert [p.message for p in problems_of(tmp_path / "vaern.yaml")] == ["required field is missing"]


# ---------------------------------------------------------------------------------------------
# Substitution, merge keys, paths


def test_environment_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAERN_TEST_HOST", "smtp.kommune.example")
    monkeypatch.setenv("VAERN_TEST_PORT", "587")
    monkeypatch.delenv("VAERN_TEST_UNSET_USER", raising=False)
    (tmp_path / "vaern.yaml").write_text(
        "organisation: ${VAERN_TEST_UNSET_USER:-Eksempel} Kommune\n"
        "smtp:\n"
        "  host: ${VAERN_TEST_HOST}\n"
        "  port: ${VAERN_TEST_PORT}\n"
        "  username: $${literal}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "vaern.yaml")
    assert config.organisation == "Eksempel Kommune"
    assert (config.smtp.host, config.smtp.port, config.smtp.username) == (
        "smtp.kommune.example",
        587,
        "${literal}",
    )


def test_merge_keys_share_settings_between_sites(tmp_path: Path) -> None:
    (tmp_path / "vaern.yaml").write_text(
        "organisation: X\n"
        "sites:\n"
        "  - &forum {id: a, start_urls: ['https://a.example/'], schedule: 15m, robots: ignore}\n"
        "  - {<<: *forum, id: b, start_urls: ['https://b.example/']}\n",
        encoding="utf-8",
    )
    a, b = load_config(tmp_path / "vaern.yaml").sites
    assert (b.id, b.start_urls, b.schedule, b.robots) == ("b", ["https://b.example/"], "15m", "ignore")
    assert a.start_urls == ["https://a.example/"]


def test_relative_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # anywhere but the config's folder
    folder = (DATA / "relative").resolve()
    config = load_config(DATA / "relative" / "vaern.yaml")
    assert config.source == folder / "vaern.yaml"
    assert config.database == f"sqlite:///{folder}/var/vaern.db"
    assert config.archive == folder / "evidence"
    assert config.people_csv == folder / "staff" / "people.csv"
    assert [p.id for p in config.people] == ["rr"]  # read from there, not from the cwd
    assert config.browser.executable == str(folder / "bin" / "chromium")


def test_absolute_and_other_database_urls_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "vaern.yaml"
    for written, loaded in [
        ("sqlite:////srv/vaern/vaern.db", "sqlite:////srv/vaern/vaern.db"),
        ("'sqlite:///:memory:'", "sqlite:///:memory:"),
        ("postgresql://vaern@db/vaern", "postgresql+psycopg://vaern@db/vaern"),
        ("postgresql+psycopg://vaern@db/vaern", "postgresql+psycopg://vaern@db/vaern"),
    ]:
        path.write_text(
            f"organisation: X\ndatabase: {written}\nbrowser: {{executable: chromium}}\n", encoding="utf-8"
        )
        config = load_config(path)
        assert config.database == loaded
        assert config.browser.executable == "chromium"  # a bare name is looked up on PATH


# ---------------------------------------------------------------------------------------------
# The shipped files


def test_example_config_is_valid() -> None:
    config = load_config(ROOT / "config" / "vaern.yaml")
    assert config.people_csv == (ROOT / "config" / "people.csv").resolve()
    csv_ids = [
        line.split(",")[0] for line in (ROOT / "config" / "people.csv").read_text("utf-8").splitlines()[1:]
    ]
    assert [p.id for p in config.people][-len(csv_ids) :] == csv_ids
    assert {p.unit for p in config.people} - {None} <= {u.id for u in config.units}
    assert len(config.units) >= 3 and len(config.sites) >= 2
    assert warnings_for(config) == []
    assert summary(config).splitlines()[0] == f"{(ROOT / 'config' / 'vaern.yaml').resolve()}: ok"


def starter_text() -> str:
    return importlib.resources.files("vaern").joinpath("starter.yaml").read_text(encoding="utf-8")


def test_starter_config_is_valid_as_written(tmp_path: Path) -> None:
    (tmp_path / "vaern.yaml").write_text(starter_text(), encoding="utf-8")
    config = load_config(tmp_path / "vaern.yaml")
    assert config.database == f"sqlite:///{tmp_path.resolve()}/var/vaern.db"
    # Its example site and addresses cannot reach anything real, and check says so.
    assert all(u.startswith("https://forum.example.invalid/") for s in config.sites for u in s.start_urls)
    assert any("marked REPLACE" in w for w in warnings_for(config))


def test_starter_config_explains_every_option() -> None:
    text = starter_text()
    # Keys as written or commented out: `key:` at a line's start, or inside {..}.
    written = set(re.findall(r"^[\s#-]*([a-z_]+):", text, flags=re.MULTILINE))
    written |= set(re.findall(r"[{,]\s*([a-z_]+):", text))
    # The sections of CONTRACT.md in full; of the others (each stage adds its options) the name.
    models = {
        "": Config,
        "smtp.": Smtp,
        "network.": Network,
        "units[].": Unit,
        "units[].leader.": Contact,
        "people[].": Person,
        "sites[].": Site,
        "sites[].follow.": Follow,
    }
    missing = [
        prefix + name
        for prefix, model in models.items()
        for name in model.model_fields
        if name != "source" and name not in written
    ]
    assert missing == []
    assert "REPLACE" in text and "\t" not in text
    assert max(len(line) for line in text.splitlines()) <= 110


def test_config_is_frozen(in_data: Path) -> None:
    config = load_config("hr_friendly.yaml")
    with pytest.raises(ValueError):
        config.organisation = "Andet"  # type: ignore[misc]
    assert json.loads(config.model_dump_json())["organisation"] == "Eksempel Kommune"


@pytest.mark.parametrize("style", ["flow", "block"])
def test_yaml_nested_100000_deep_is_a_clear_error_and_exit_2(tmp_path: Path, style: str) -> None:
    from click.testing import CliRunner

    from vaern.cli import main

    path = tmp_path / "deep.yaml"
    if style == "flow":
        path.write_text("organisation: X\nsites: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    else:
        path.write_text("organisation: X\nsites:\n" + "".join(" " * i + "- \n" for i in range(3000)),
                        encoding="utf-8")
    result = CliRunner().invoke(main, ["-c", str(path), "check"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.splitlines()
    assert line.startswith(f"{path}:")
    assert line.endswith(": (yaml): nested more than 64 levels deep; a config needs only a few")
