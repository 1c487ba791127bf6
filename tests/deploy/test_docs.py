"""The operator docs stay true to the charm and link to pages that exist."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, load_yaml

PAGES = [
    "docs/reference/charm.md",
    "docs/tutorial/snap.md",
    "docs/how-to/deploy-with-juju.md",
    "docs/how-to/deploy-with-terraform.md",
    "docs/how-to/add-a-region.md",
    "docs/how-to/configure-s3.md",
    "docs/how-to/rotate-tokens.md",
    "docs/how-to/back-up-and-restore.md",
    "docs/explanation/channels.md",
    "docs/explanation/catalog-replication.md",
    "docs/explanation/security-model.md",
    "terraform/README.md",
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#([^)\s]+))?\)")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_point_at_existing_pages_and_headings(page):
    path = REPO / page
    for target, anchor in LINK.findall(path.read_text()):
        if "://" in target:
            continue
        linked = (path.parent / target).resolve()
        assert linked.exists(), f"{page} links to missing {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked.read_text()), f"{page}: no #{anchor} in {target}"


@pytest.mark.parametrize("page", PAGES)
def test_the_index_links_every_page(page):
    if page.startswith("terraform/"):
        target = "../terraform/README.md"
    else:
        target = page.removeprefix("docs/")
    assert f"]({target})" in (REPO / "docs/README.md").read_text()


def test_charm_reference_covers_every_relation_option_and_action():
    charm = load_yaml("charm/charmcraft.yaml")
    reference = (REPO / "docs/reference/charm.md").read_text()
    for endpoint in [*charm["requires"], *charm["provides"]]:
        assert f"| `{endpoint}` |" in reference, endpoint
    for option, spec in charm["config"]["options"].items():
        row = next((line for line in reference.splitlines() if line.startswith(f"| `{option}` |")), None)
        assert row, option
        if "default" not in spec:  # e.g. a secret option: unset unless the operator sets it
            assert row.split("|")[3].strip() == "unset", option
            continue
        default = spec["default"]
        shown = str(default).lower() if isinstance(default, bool) else default
        assert f"`{shown}`" in row if default != "" else '`""`' in row, option
    for action, spec in charm["actions"].items():
        row = next(line for line in reference.splitlines() if line.startswith(f"| `{action}` |"))
        for param in spec.get("params", {}):
            assert f"`{param}`" in row, f"{action}: {param}"


def test_charm_reference_lists_every_alert_rule():
    reference = (REPO / "docs/reference/charm.md").read_text()
    for path in ("src/prometheus_alert_rules/depot.rules", "src/loki_alert_rules/depot.rules"):
        rules = load_yaml(f"charm/{path}")
        for group in rules["groups"]:
            for rule in group["rules"]:
                assert f"`{rule['alert']}`" in reference, rule["alert"]
