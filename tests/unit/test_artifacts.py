"""A `lambda` event's code as a zip: which files `package.patterns` selects (Serverless's
semantics), that the zip depends only on names, contents and the execute bit, the size limit,
the content-addressed key, and that an artifact already in the bucket is not uploaded again."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from hybridless.errors import PhaseError
from hybridless.stack import artifacts
from hybridless.stack.artifacts import (
    Artifact,
    artifact_key,
    build_zip,
    package_function,
    select_files,
    upload_artifact,
)

pytestmark = pytest.mark.unit


def make(root: Path, *names: str, content: str | None = None) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if content is not None else f"contents of {name}\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    make(
        root,
        "handler.py",
        "README.md",
        "src/a.py",
        "src/ab.py",
        "src/b.py",
        "src/c.js",
        "src/tests/test_inner.py",
        "tests/test_api.py",
        "tests/fixtures/data.json",
        "tests_helper.py",
        "docs/guide.md",
        "docs/keep.md",
        "docs/deep/page.md",
    )
    return root


# --- select_files: defaults ------------------------------------------------------------------


def test_everything_is_selected_without_patterns_sorted(project: Path) -> None:
    files = select_files(project, [])
    assert files == sorted(files)
    assert "handler.py" in files
    assert "docs/deep/page.md" in files
    assert len(files) == 13


def test_the_default_excludes_leave_out_vcs_tool_and_cache_files(project: Path) -> None:
    make(
        project,
        ".git/HEAD",
        ".git/objects/ab/cdef",
        ".gitignore",
        ".DS_Store",
        "src/.DS_Store",
        "npm-debug.log",
        "yarn-error.log",
        ".serverless/cloudformation.json",
        ".serverless_plugins/plugin.js",
        "hybridless.env",
        ".hybridless/cache",
        "__pycache__/handler.cpython-311.pyc",
        "src/__pycache__/a.cpython-311.pyc",
        "src/stale.pyc",
    )
    files = select_files(project, [])
    assert not [f for f in files if f.startswith((".git/", ".serverless", ".hybridless/"))]
    for name in (
        ".gitignore",
        ".DS_Store",
        "src/.DS_Store",
        "npm-debug.log",
        "yarn-error.log",
        "hybridless.env",
        "src/stale.pyc",
    ):
        assert name not in files
    assert not [f for f in files if "__pycache__" in f]
    assert len(files) == 13


def test_other_dotfiles_are_included_as_serverless_does(project: Path) -> None:
    """globby runs with `dot: true`: only the listed dotfiles are left out by default."""
    make(project, ".npmrc", ".config/settings.json", "src/.hidden/x.txt", ".gitattributes")
    files = select_files(project, [])
    for name in (".npmrc", ".config/settings.json", "src/.hidden/x.txt", ".gitattributes"):
        assert name in files


def test_a_default_exclude_can_be_re_included(project: Path) -> None:
    make(project, ".gitignore", ".git/HEAD")
    files = select_files(project, [".gitignore"])
    assert ".gitignore" in files
    assert ".git/HEAD" not in files


def test_the_configuration_file_in_use_is_excluded(project: Path) -> None:
    make(project, "hybridless.yml", "serverless.yml")
    files = select_files(project, [], config_file=project / "hybridless.yml")
    assert "hybridless.yml" not in files
    assert "serverless.yml" in files
    assert "hybridless.yml" in select_files(project, [])
    assert "hybridless.yml" in select_files(
        project, ["hybridless.yml"], config_file="hybridless.yml"
    )


def test_a_configuration_file_outside_the_directory_changes_nothing(
    project: Path, tmp_path: Path
) -> None:
    make(tmp_path, "elsewhere.yml")
    assert select_files(project, [], config_file=tmp_path / "elsewhere.yml") == select_files(
        project, []
    )


# --- select_files: the user's patterns ------------------------------------------------------


def test_a_negated_directory_glob_excludes_the_whole_tree(project: Path) -> None:
    files = select_files(project, ["!tests/**"])
    assert not [f for f in files if f.startswith("tests/")]
    assert "tests_helper.py" in files
    assert "src/tests/test_inner.py" in files  # anchored at the directory, not any depth


def test_a_later_pattern_re_includes_what_an_earlier_one_excluded(project: Path) -> None:
    files = select_files(project, ["!docs/**", "docs/keep.md"])
    assert [f for f in files if f.startswith("docs/")] == ["docs/keep.md"]


def test_the_last_matching_pattern_wins(project: Path) -> None:
    files = select_files(project, ["docs/keep.md", "!docs/**"])
    assert not [f for f in files if f.startswith("docs/")]


def test_exclude_everything_then_include_a_directory(project: Path) -> None:
    files = select_files(project, ["!**", "src/**", "handler.py"])
    assert files == [
        "handler.py",
        "src/a.py",
        "src/ab.py",
        "src/b.py",
        "src/c.js",
        "src/tests/test_inner.py",
    ]


def test_a_star_stays_within_one_directory(project: Path) -> None:
    files = select_files(project, ["!*.md"])
    assert "README.md" not in files
    assert "docs/guide.md" in files
    files = select_files(project, ["!**/*.md"])
    assert not [f for f in files if f.endswith(".md")]


def test_braces_expand(project: Path) -> None:
    files = select_files(project, ["!{docs,tests}/**", "!src/{a,b}.py"])
    assert not [f for f in files if f.startswith(("docs/", "tests/"))]
    assert "src/a.py" not in files
    assert "src/b.py" not in files
    assert "src/ab.py" in files


def test_a_question_mark_matches_one_character(project: Path) -> None:
    files = select_files(project, ["!src/?.py"])
    assert "src/a.py" not in files
    assert "src/b.py" not in files
    assert "src/ab.py" in files


def test_a_leading_dot_slash_is_ignored(project: Path) -> None:
    assert "src/a.py" not in select_files(project, ["!./src/a.py"])


def test_matching_is_case_sensitive(project: Path) -> None:
    assert "README.md" in select_files(project, ["!readme.md"])


def test_a_runaway_brace_pattern_is_a_package_error(project: Path) -> None:
    with pytest.raises(PhaseError, match="package pattern"):
        select_files(project, ["!{1..100000}"])


def test_a_missing_directory_is_a_package_error(tmp_path: Path) -> None:
    with pytest.raises(PhaseError, match="does not exist"):
        select_files(tmp_path / "nope", [])


# --- select_files: symbolic links -----------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    make(root, "handler.py", "lib/util.py")
    make(tmp_path, "outside/secret.txt", "outside/shared.py")
    (root / "shared.py").symlink_to(tmp_path / "outside" / "shared.py")
    (root / "outside-dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "lib-alias").symlink_to(root / "lib", target_is_directory=True)
    (root / "lib" / "loop").symlink_to(root / "lib", target_is_directory=True)
    (root / "lib" / "up").symlink_to(root, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "missing")
    return root


def test_links_to_files_are_followed_and_links_out_of_the_directory_are_not(
    linked: Path,
) -> None:
    assert select_files(linked, []) == [
        "handler.py",
        "lib-alias/util.py",
        "lib/util.py",
        "shared.py",
    ]


def test_a_linked_file_is_stored_with_its_content(linked: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(build_zip(linked, ["shared.py"]))) as archive:
        assert archive.read("shared.py") == b"contents of outside/shared.py\n"


# --- build_zip ------------------------------------------------------------------------------

TREE = {
    "handler.py": "def handler(event, context):\n    return 1\n",
    "lib/util.py": "X = 1\n",
    "lib/data/big.txt": "line\n" * 2000,
    "bin/run": "#!/bin/sh\necho hi\n",
    "z-last.txt": "z\n",
}


def build_tree(root: Path, order: list[str], mtime: float, umask: int) -> list[str]:
    old = os.umask(umask)
    try:
        for name in order:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(TREE[name])
            os.utime(path, (mtime, mtime))
        os.chmod(root / "bin/run", os.stat(root / "bin/run").st_mode | stat.S_IXUSR)
    finally:
        os.umask(old)
    return select_files(root, [])


def test_the_same_files_give_the_same_bytes_whatever_mtimes_umask_and_order(
    tmp_path: Path,
) -> None:
    names = list(TREE)
    first = build_tree(tmp_path / "one", names, mtime=1_000_000_000, umask=0o022)
    second = build_tree(tmp_path / "two", names[::-1], mtime=1_700_000_000.5, umask=0o077)
    assert first == second
    assert build_zip(tmp_path / "one", first) == build_zip(tmp_path / "two", second)
    # The order files are passed in does not matter either.
    assert build_zip(tmp_path / "one", first) == build_zip(tmp_path / "one", first[::-1])


def test_a_changed_content_changes_the_bytes(tmp_path: Path) -> None:
    files = build_tree(tmp_path, list(TREE), mtime=1_000_000_000, umask=0o022)
    before = build_zip(tmp_path, files)
    (tmp_path / "lib/util.py").write_text("X = 2\n")
    assert build_zip(tmp_path, files) != before


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[zipfile.ZipFile]:
    files = build_tree(tmp_path, list(TREE), mtime=1_234_567_890, umask=0o027)
    with zipfile.ZipFile(io.BytesIO(build_zip(tmp_path, files))) as opened:
        yield opened


def test_the_zip_holds_exactly_the_selected_files_sorted(archive: zipfile.ZipFile) -> None:
    assert archive.testzip() is None
    assert archive.namelist() == sorted(TREE)
    for name, text in TREE.items():
        assert archive.read(name) == text.encode()


def test_entries_are_normalised(archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.create_system == 3
        assert info.extra == b""
        assert not info.is_dir()
        mode = info.external_attr >> 16
        assert stat.S_ISREG(mode)
        expected = 0o755 if info.filename == "bin/run" else 0o644
        assert stat.S_IMODE(mode) == expected, info.filename


def test_the_owner_execute_bit_decides_the_mode(tmp_path: Path) -> None:
    make(tmp_path, "script", "group-only")
    (tmp_path / "script").chmod(0o700)
    (tmp_path / "group-only").chmod(0o670)
    with zipfile.ZipFile(io.BytesIO(build_zip(tmp_path, ["script", "group-only"]))) as opened:
        assert stat.S_IMODE(opened.getinfo("script").external_attr >> 16) == 0o755
        assert stat.S_IMODE(opened.getinfo("group-only").external_attr >> 16) == 0o644


# --- package_function -----------------------------------------------------------------------


def test_package_function_describes_its_zip(project: Path) -> None:
    artifact = package_function(project, ["!tests/**", "!docs/**"], "Api")
    assert artifact.name == "Api"
    assert artifact.sha256 == hashlib.sha256(artifact.body).hexdigest()
    assert artifact.size == len(artifact.body)
    assert artifact.files == 8
    with zipfile.ZipFile(io.BytesIO(artifact.body)) as opened:
        assert opened.namelist() == select_files(project, ["!tests/**", "!docs/**"])
        assert artifact.unzipped_size == sum(i.file_size for i in opened.infolist())
    assert "body" not in repr(artifact)


def test_patterns_that_exclude_everything_are_a_package_error(project: Path) -> None:
    with pytest.raises(PhaseError, match="the patterns exclude every file") as caught:
        package_function(project, ["!**"], "Api")
    assert caught.value.phase == "package"
    assert "Api" in str(caught.value)


def test_code_over_lambda_s_unzipped_limit_is_a_package_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts, "MAX_UNZIPPED_BYTES", 100)
    with pytest.raises(PhaseError, match="bytes unzipped"):
        package_function(project, [], "Api")


def test_the_limit_is_lambda_s_250_mb_unzipped_quota() -> None:
    assert artifacts.MAX_UNZIPPED_BYTES == 250 * 1024 * 1024


# --- artifact_key ---------------------------------------------------------------------------


def test_the_key_is_content_addressed(project: Path) -> None:
    first = package_function(project, [], "Api")
    again = package_function(project, [], "Api")
    key = artifact_key("shop", "dev", first)
    assert key == f"shop/dev/artifacts/Api-{first.sha256[:16]}.zip"
    assert artifact_key("shop", "dev", again) == key
    make(project, "handler.py", content="changed\n")
    assert artifact_key("shop", "dev", package_function(project, [], "Api")) != key


# --- upload_artifact ------------------------------------------------------------------------

BUCKET = "deployments"
ARTIFACT = Artifact(name="Api", sha256="ab" * 32, size=4, body=b"PK\x05\x06")
KEY = "shop/dev/artifacts/Api-abababababababab.zip"


@pytest.fixture
def s3() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_put(stubber: Stubber) -> None:
    stubber.add_response(
        "put_object",
        {"ETag": '"etag"'},
        {"Bucket": BUCKET, "Key": KEY, "Body": ARTIFACT.body, "ContentType": "application/zip"},
    )


def test_an_artifact_already_in_the_bucket_is_not_uploaded(s3: tuple[object, Stubber]) -> None:
    client, stubber = s3
    stubber.add_response("head_object", {"ContentLength": 4}, {"Bucket": BUCKET, "Key": KEY})
    assert upload_artifact(client, BUCKET, KEY, ARTIFACT) is False


def test_a_missing_artifact_is_uploaded(s3: tuple[object, Stubber]) -> None:
    client, stubber = s3
    stubber.add_client_error(
        "head_object",
        service_error_code="404",
        http_status_code=404,
        expected_params={"Bucket": BUCKET, "Key": KEY},
    )
    expect_put(stubber)
    assert upload_artifact(client, BUCKET, KEY, ARTIFACT) is True


def test_a_forbidden_check_still_uploads(s3: tuple[object, Stubber]) -> None:
    """Without s3:ListBucket, S3 answers 403 for a missing object."""
    client, stubber = s3
    stubber.add_client_error(
        "head_object",
        service_error_code="403",
        http_status_code=403,
        expected_params={"Bucket": BUCKET, "Key": KEY},
    )
    expect_put(stubber)
    assert upload_artifact(client, BUCKET, KEY, ARTIFACT) is True


def test_an_object_of_another_size_under_the_key_is_replaced(s3: tuple[object, Stubber]) -> None:
    client, stubber = s3
    stubber.add_response("head_object", {"ContentLength": 1}, {"Bucket": BUCKET, "Key": KEY})
    expect_put(stubber)
    assert upload_artifact(client, BUCKET, KEY, ARTIFACT) is True


def test_other_errors_on_the_check_are_raised(s3: tuple[object, Stubber]) -> None:
    from botocore.exceptions import ClientError

    client, stubber = s3
    stubber.add_client_error(
        "head_object",
        service_error_code="InternalError",
        http_status_code=500,
        expected_params={"Bucket": BUCKET, "Key": KEY},
    )
    with pytest.raises(ClientError):
        upload_artifact(client, BUCKET, KEY, ARTIFACT)
