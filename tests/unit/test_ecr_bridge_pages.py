"""The local ECR keeps ECR's paging and batch limits, which moto does not: the pure part.

moto answers every list with all its items and accepts any batch; a tool that only ever met moto
could forget to follow `nextToken` or send 101 ids and break on its first big repository. These
tests pin the bridge's own rules; tests/integration/test_local_ecr.py shows them through boto3.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser

from proving_ground.ecr_bridge import (
    MAX_BATCH,
    PAGE_SIZE,
    EcrRefusal,
    check_limits,
    page_of,
    request_for_moto,
    with_untagged_deletions,
)

REPO = "app/web"


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def image_ids(count: int) -> list[dict[str, str]]:
    """moto's answer to ListImages: one entry per tag, untagged images without `imageTag`."""
    ids: list[dict[str, str]] = []
    for n in range(count):
        if n % 10 == 0:
            ids.append({"imageDigest": digest(n)})
        else:
            ids.append({"imageDigest": digest(n), "imageTag": f"t{n}"})
    return ids


def list_all(
    response: dict[str, Any], operation: str = "ListImages", **request: Any
) -> list[dict[str, Any]]:
    """Follow nextToken the way an SDK paginator does, checking each call as the bridge does."""
    member = {"ListImages": "imageIds", "DescribeImages": "imageDetails"}.get(
        operation, "repositories"
    )
    request = {"repositoryName": REPO, **request}
    items: list[dict[str, Any]] = []
    for _ in range(100):
        check_limits(operation, request)
        page = page_of(operation, request, response)
        items.extend(page[member])
        if "nextToken" not in page:
            return items
        request = {**request, "nextToken": page["nextToken"]}
    raise AssertionError("the token never ran out")


def refusal(operation: str, request: dict[str, Any]) -> EcrRefusal:
    with pytest.raises(EcrRefusal) as caught:
        check_limits(operation, request)
    return caught.value


def test_list_images_answers_100_and_a_token_when_no_size_is_asked() -> None:
    response = {"imageIds": image_ids(230)}

    page = page_of("ListImages", {"repositoryName": REPO}, response)

    assert len(page["imageIds"]) == PAGE_SIZE == 100
    assert isinstance(page["nextToken"], str) and page["nextToken"]


def test_following_the_token_lists_every_image_once() -> None:
    everything = image_ids(230)

    listed = list_all({"imageIds": everything})

    assert len(listed) == 230
    assert sorted(map(json.dumps, listed)) == sorted(map(json.dumps, everything))


@pytest.mark.parametrize(("size", "pages"), [(1, 7), (3, 3), (7, 1), (1000, 1)])
def test_max_results_sets_the_page_size(size: int, pages: int) -> None:
    response = {"imageIds": image_ids(7)}
    request: dict[str, Any] = {"repositoryName": REPO, "maxResults": size}
    sizes = []
    while True:
        page = page_of("ListImages", request, response)
        sizes.append(len(page["imageIds"]))
        if "nextToken" not in page:
            break
        request["nextToken"] = page["nextToken"]

    assert len(sizes) == pages
    assert sum(sizes) == 7
    assert all(n <= size for n in sizes)


def test_the_last_page_carries_no_token() -> None:
    page = page_of("ListImages", {"repositoryName": REPO}, {"imageIds": image_ids(100)})

    assert len(page["imageIds"]) == 100
    assert "nextToken" not in page


def test_an_empty_repository_is_one_empty_page() -> None:
    assert page_of("ListImages", {"repositoryName": REPO}, {"imageIds": []}) == {"imageIds": []}


def test_images_deleted_between_pages_do_not_shift_the_rest_out_of_the_listing() -> None:
    everything = image_ids(230)
    request: dict[str, Any] = {"repositoryName": REPO}
    first = page_of("ListImages", request, {"imageIds": everything})
    # Cleanup deletes what it has seen before asking for the next page.
    remaining = [i for i in everything if i not in first["imageIds"]]

    rest = list_all({"imageIds": remaining}, nextToken=first["nextToken"])

    assert sorted(map(json.dumps, rest)) == sorted(map(json.dumps, remaining))


def test_describe_images_pages_the_whole_repository() -> None:
    details: list[dict[str, Any]] = [
        {"imageDigest": digest(n), "imageSizeInBytes": n} for n in range(150)
    ]

    page = page_of("DescribeImages", {"repositoryName": REPO}, {"imageDetails": details})
    listed = list_all({"imageDetails": details}, "DescribeImages")

    assert len(page["imageDetails"]) == 100
    assert "nextToken" in page
    assert sorted(d["imageDigest"] for d in listed) == sorted(d["imageDigest"] for d in details)


def test_describe_images_of_named_images_is_not_paged() -> None:
    details = [{"imageDigest": digest(n)} for n in range(150)]
    request = {"repositoryName": REPO, "imageIds": [{"imageDigest": digest(n)} for n in range(3)]}
    response = {"imageDetails": details, "failures": []}

    check_limits("DescribeImages", request)

    assert page_of("DescribeImages", request, response) is response
    assert request_for_moto("DescribeImages", request) is request


@pytest.mark.parametrize(
    ("operation", "named"),
    [("DescribeImages", "imageIds"), ("DescribeRepositories", "repositoryNames")],
)
@pytest.mark.parametrize("member", ["maxResults", "nextToken"])
def test_paging_members_with_named_items_are_refused(
    operation: str, named: str, member: str
) -> None:
    names: list[Any] = [{"imageTag": "a"}] if named == "imageIds" else ["a"]
    request = {"repositoryName": REPO, named: names, member: 5 if member == "maxResults" else "x"}

    assert refusal(operation, request).code == "InvalidParameterException"


def test_describe_repositories_pages_by_repository_name() -> None:
    repositories = [{"repositoryName": f"repo-{n:03d}"} for n in range(250)]

    page = page_of("DescribeRepositories", {}, {"repositories": repositories, "failures": []})
    listed = list_all({"repositories": repositories}, "DescribeRepositories")

    assert [r["repositoryName"] for r in page["repositories"]][:2] == ["repo-000", "repo-001"]
    assert len(page["repositories"]) == 100
    assert page["failures"] == []
    assert len(listed) == 250
    assert len({r["repositoryName"] for r in listed}) == 250


@pytest.mark.parametrize("size", [0, -1, 1001, "10", True, None])
def test_max_results_out_of_range_is_refused(size: Any) -> None:
    error = refusal("ListImages", {"repositoryName": REPO, "maxResults": size})

    assert error.code == "InvalidParameterException"
    assert "maxResults" in error.message


def test_max_results_at_the_bounds_is_accepted() -> None:
    check_limits("ListImages", {"repositoryName": REPO, "maxResults": 1})
    check_limits("DescribeImages", {"repositoryName": REPO, "maxResults": 1000})


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"repositoryName": "other/repo"}, id="another-repository"),
        pytest.param({"filter": {"tagStatus": "TAGGED"}}, id="another-filter"),
        pytest.param({"registryId": "210987654321"}, id="another-registry"),
    ],
)
def test_a_token_is_good_only_for_the_listing_it_came_from(change: dict[str, Any]) -> None:
    request: dict[str, Any] = {"repositoryName": REPO}
    token = page_of("ListImages", request, {"imageIds": image_ids(230)})["nextToken"]

    error = refusal("ListImages", {**request, **change, "nextToken": token})

    assert error.code == "InvalidParameterException"


def test_a_token_of_another_operation_is_refused() -> None:
    details = [{"imageDigest": digest(n)} for n in range(150)]
    token = page_of("DescribeImages", {"repositoryName": REPO}, {"imageDetails": details})[
        "nextToken"
    ]

    refusal("ListImages", {"repositoryName": REPO, "nextToken": token})


@pytest.mark.parametrize("token", ["", "not-a-token", "e30=", 17])
def test_a_token_the_bridge_did_not_make_is_refused(token: Any) -> None:
    refusal("ListImages", {"repositoryName": REPO, "nextToken": token})


def test_moto_is_asked_for_everything() -> None:
    request = {"repositoryName": REPO, "maxResults": 5, "nextToken": "t", "filter": {"x": 1}}

    assert request_for_moto("ListImages", request) == {"repositoryName": REPO, "filter": {"x": 1}}
    assert request_for_moto("BatchDeleteImage", request) is request


@pytest.mark.parametrize("operation", ["BatchDeleteImage", "BatchGetImage"])
def test_batches_of_up_to_100_ids_pass(operation: str) -> None:
    ids = [{"imageDigest": digest(n)} for n in range(MAX_BATCH)]

    check_limits(operation, {"repositoryName": REPO, "imageIds": ids})


@pytest.mark.parametrize("operation", ["BatchDeleteImage", "BatchGetImage"])
def test_batches_of_more_than_100_ids_are_refused_as_ecr_refuses_them(operation: str) -> None:
    ids = [{"imageDigest": digest(n)} for n in range(MAX_BATCH + 1)]

    error = refusal(operation, {"repositoryName": REPO, "imageIds": ids})

    assert error.code == "InvalidParameterException"
    assert error.message == (
        "Invalid parameter at 'imageIds' failed to satisfy constraint: "
        "'Member must have length less than or equal to 100'"
    )


def test_a_refusal_reads_as_ecrs_error_to_an_sdk() -> None:
    status, headers, body = EcrRefusal("too many").reply()
    model = botocore.session.get_session().get_service_model("ecr")
    operation = model.operation_model("BatchDeleteImage")

    parsed = create_parser(model.metadata["protocol"]).parse(
        {"status_code": status, "headers": dict(headers), "body": body},
        operation.output_shape,
    )

    assert status == 400
    assert parsed["Error"]["Code"] == "InvalidParameterException"
    assert parsed["Error"]["Message"] == "too many"


def test_an_untagged_image_moto_deleted_is_reported_by_digest_as_ecr_reports_it() -> None:
    tagged, untagged, unknown = digest(1), digest(2), digest(3)
    request = {
        "repositoryName": REPO,
        "imageIds": [{"imageDigest": d} for d in (tagged, untagged, unknown)],
    }
    # moto: one entry per tag of a deleted image, none for an untagged one; failures as ECR.
    response: dict[str, Any] = {
        "imageIds": [
            {"imageDigest": tagged, "imageTag": "a"},
            {"imageDigest": tagged, "imageTag": "b"},
        ],
        "failures": [{"imageId": {"imageDigest": unknown}, "failureCode": "ImageNotFound"}],
    }

    completed = with_untagged_deletions(request, response)

    assert completed["imageIds"] == [*response["imageIds"], {"imageDigest": untagged}]
    assert completed["failures"] == response["failures"]


def test_deletions_by_tag_are_reported_as_moto_reports_them() -> None:
    request = {"repositoryName": REPO, "imageIds": [{"imageTag": "a"}]}
    response = {"imageIds": [{"imageDigest": digest(1), "imageTag": "a"}], "failures": []}

    assert with_untagged_deletions(request, response) is response
