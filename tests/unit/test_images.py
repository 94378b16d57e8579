"""Image tags, the cleanup rule, image references and the ECR lifecycle failsafe."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hybridless.images.cleanup import StoredImage, plan_deletions, split_reference
from hybridless.images.push import LIFECYCLE_POLICY
from hybridless.images.tags import (
    COMMIT_VARIABLES,
    VALID_TAG,
    current_commit,
    generate_tag,
    is_generated,
)

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
WHEN = datetime(2026, 11, 22, 10, 15, 0, 123456, tzinfo=UTC)

# --- generate_tag -----------------------------------------------------------------------------


def test_a_tag_is_utc_time_to_the_millisecond_and_the_short_commit() -> None:
    tag = generate_tag(WHEN, SHA)

    assert tag == "20261122T101500.123Z-1a2b3c4"
    assert VALID_TAG.match(tag)
    assert is_generated(tag)


def test_milliseconds_are_zero_padded() -> None:
    assert generate_tag(WHEN.replace(microsecond=7000), SHA) == "20261122T101500.007Z-1a2b3c4"
    assert generate_tag(WHEN.replace(microsecond=999), SHA) == "20261122T101500.000Z-1a2b3c4"


def test_tags_one_millisecond_apart_differ() -> None:
    first = generate_tag(WHEN, SHA)
    second = generate_tag(WHEN + timedelta(milliseconds=1), SHA)

    assert first != second
    assert first < second


def test_tags_sort_like_the_times_they_were_made() -> None:
    start = datetime(2026, 12, 31, 23, 59, 59, 998000, tzinfo=UTC)
    steps = [
        timedelta(0),
        timedelta(milliseconds=1),
        timedelta(milliseconds=2),  # crosses into the next year
        timedelta(seconds=9),
        timedelta(minutes=61),
        timedelta(days=40),
        timedelta(days=400),
    ]
    commits = ["fffffff", "0000000", None, "aaaaaaa", "9999999", "1234567", "zzzzzzz"]
    tags = [generate_tag(start + step, commit) for step, commit in zip(steps, commits, strict=True)]

    assert sorted(tags) == tags
    assert len(set(tags)) == len(tags)


def test_the_commit_is_shortened_lowercased_and_sanitised() -> None:
    assert generate_tag(WHEN, "ABCDEF0123456789").endswith("Z-abcdef0")
    assert generate_tag(WHEN, "v1.2/3_4-5+6").endswith("Z-v123456")
    assert generate_tag(WHEN, "ab").endswith("Z-ab")


@pytest.mark.parametrize("commit", [None, "", "---", "../__"])
def test_without_a_usable_commit_the_tag_says_local(commit: str | None) -> None:
    tag = generate_tag(WHEN, commit)

    assert tag == "20261122T101500.123Z-local"
    assert is_generated(tag)


def test_times_in_other_zones_are_converted_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    new_york = timezone(timedelta(hours=-5))

    assert generate_tag(datetime(2026, 1, 1, 8, 30, 0, 250000, tzinfo=tokyo), SHA) == (
        "20251231T233000.250Z-1a2b3c4"
    )
    assert generate_tag(datetime(2026, 1, 1, 20, 0, 0, tzinfo=new_york), SHA) == (
        "20260102T010000.000Z-1a2b3c4"
    )


def test_the_same_instant_in_two_zones_gives_one_tag() -> None:
    india = timezone(timedelta(hours=5, minutes=30))

    assert generate_tag(WHEN.astimezone(india), SHA) == generate_tag(WHEN, SHA)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("20261122T101500.123Z-1a2b3c4", True),
        ("20261122T101500.123Z-local", True),
        ("latest", False),
        ("v1.2.3", False),
        ("20261122T101500Z-1a2b3c4", False),  # no milliseconds
        ("20261122T101500.123Z-1A2B3C4", False),  # upper case is a person's choice
        ("20261122T101500.123Z-", False),
        ("x20261122T101500.123Z-1a2b3c4", False),
    ],
)
def test_is_generated(tag: str, expected: bool) -> None:
    assert is_generated(tag) is expected


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("latest", True),
        ("_x", True),
        ("a" * 128, True),
        ("a" * 129, False),
        (".hidden", False),
        ("-dash", False),
        ("has space", False),
        ("a/b", False),
        ("", False),
    ],
)
def test_valid_tag(tag: str, valid: bool) -> None:
    assert bool(VALID_TAG.match(tag)) is valid


# --- current_commit -------------------------------------------------------------------------


@pytest.mark.parametrize("variable", COMMIT_VARIABLES)
def test_the_commit_comes_from_ci_variables(variable: str, tmp_path: Path) -> None:
    assert current_commit({variable: SHA}, tmp_path) == SHA


def test_github_sha_wins_and_empty_variables_are_skipped(tmp_path: Path) -> None:
    assert current_commit({"GITHUB_SHA": "aaa", "CI_COMMIT_SHA": "bbb"}, tmp_path) == "aaa"
    assert current_commit({"GITHUB_SHA": "", "CI_COMMIT_SHA": "bbb"}, tmp_path) == "bbb"


def _git(directory: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=x", "-c", "user.email=x@y", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


def test_the_commit_comes_from_git_when_no_variable_is_set(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "hybridless.yml").write_text("service: x\n", encoding="utf-8")
    _git(tmp_path, "add", "hybridless.yml")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    sub = tmp_path / "app"
    sub.mkdir()

    assert len(head) == 40
    assert current_commit({}, tmp_path) == head
    assert current_commit({}, sub) == head
    assert current_commit({"GITHUB_SHA": SHA}, tmp_path) == SHA


def test_a_repository_without_commits_has_no_commit(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")

    assert current_commit({}, tmp_path) is None


def test_outside_a_repository_there_is_no_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))

    assert current_commit({}, tmp_path) is None
    assert current_commit({}, tmp_path / "does-not-exist") is None


# --- plan_deletions -------------------------------------------------------------------------

OURS = "20261122T101500.123Z-1a2b3c4"
OURS_OLDER = "20261121T090000.000Z-0f0f0f0"
OURS_OLDEST = "20261120T090000.000Z-0e0e0e0"


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def plan(
    images: list[StoredImage],
    live_digests: AbstractSet[str] = frozenset(),
    live_tags: AbstractSet[str] = frozenset(),
) -> list[StoredImage]:
    return plan_deletions(images, set(live_digests), set(live_tags), is_generated)


def test_an_image_of_ours_that_nothing_uses_is_deleted() -> None:
    old = StoredImage(digest(1), (OURS_OLDER,))

    assert plan([old]) == [old]


def test_a_live_digest_is_kept() -> None:
    assert plan([StoredImage(digest(1), (OURS_OLDER,))], live_digests={digest(1)}) == []


def test_a_live_tag_is_kept() -> None:
    assert plan([StoredImage(digest(1), (OURS_OLDER,))], live_tags={OURS_OLDER}) == []


def test_one_live_tag_among_several_keeps_the_image() -> None:
    image = StoredImage(digest(1), (OURS_OLDEST, OURS_OLDER))

    assert plan([image], live_tags={OURS_OLDER}) == []


def test_an_untagged_image_is_kept() -> None:
    assert plan([StoredImage(digest(1), ())]) == []


def test_an_image_with_any_foreign_tag_is_kept() -> None:
    assert plan([StoredImage(digest(1), (OURS_OLDER, "release-1"))]) == []
    assert plan([StoredImage(digest(2), ("latest",))]) == []


def test_all_of_our_tags_and_not_live_means_deleted_even_with_several_tags() -> None:
    image = StoredImage(digest(1), (OURS_OLDEST, OURS_OLDER))

    assert plan([image]) == [image]


def test_the_rule_applies_to_each_image_in_a_mixed_repository() -> None:
    current = StoredImage(digest(1), (OURS,))
    previous = StoredImage(digest(2), (OURS_OLDER,))
    ancient = StoredImage(digest(3), (OURS_OLDEST,))
    pinned = StoredImage(digest(4), ("v2",))
    dangling = StoredImage(digest(5), ())
    by_tag = StoredImage(digest(6), ("20261101T000000.000Z-local",))

    doomed = plan(
        [current, previous, ancient, pinned, dangling, by_tag],
        live_digests={digest(1), digest(2)},
        live_tags={"20261101T000000.000Z-local"},
    )

    assert doomed == [ancient]


def test_is_ours_decides_what_counts_as_foreign() -> None:
    image = StoredImage(digest(1), ("release-1",))

    assert plan_deletions([image], set(), set(), lambda tag: tag == "release-1") == [image]
    assert plan_deletions([image], set(), set(), lambda tag: False) == []


# --- split_reference ------------------------------------------------------------------------

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param(
            f"{ECR}/hello/web-0-dev@{digest(9)}",
            ("hello/web-0-dev", digest(9), None),
            id="digest",
        ),
        pytest.param(f"{ECR}/hello/web-0-dev:{OURS}", ("hello/web-0-dev", None, OURS), id="tag"),
        pytest.param(f"{ECR}/hello/web-0-dev", ("hello/web-0-dev", None, None), id="no-tag"),
        pytest.param("127.0.0.1:5000/a/b:tag", ("a/b", None, "tag"), id="port-and-tag"),
        pytest.param("127.0.0.1:5000/a/b", ("a/b", None, None), id="port-no-tag"),
        pytest.param(f"127.0.0.1:5000/a/b@{digest(3)}", ("a/b", digest(3), None), id="port-digest"),
        pytest.param("localhost:5000/single:v1", ("single", None, "v1"), id="one-level-repo"),
    ],
)
def test_split_reference(uri: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_reference(uri) == expected


# --- lifecycle failsafe ---------------------------------------------------------------------


def test_the_lifecycle_policy_keeps_the_newest_100_tagged_images() -> None:
    policy = json.loads(LIFECYCLE_POLICY)

    assert len(policy["rules"]) == 1
    rule = policy["rules"][0]
    assert rule["rulePriority"] == 1
    assert rule["selection"]["tagStatus"] == "tagged"
    assert rule["selection"]["tagStatus"] != "any"
    assert rule["selection"]["tagPatternList"] == ["*"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == 100
    assert rule["action"] == {"type": "expire"}
