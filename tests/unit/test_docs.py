"""The documentation shows code that runs: docs/plugins.md's complete example is the plug-in module
the acceptance tests run, and docs/webhooks.md's receiver snippet is the function they verify every
webhook with, each as it is."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_plugin_page_shows_the_tested_plugin_module_as_it_is() -> None:
    page = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    shown = page.split("<!-- plugin-example:begin -->\n```python\n", 1)[1].split(
        "```\n<!-- plugin-example:end", 1
    )[0]
    assert shown == (ROOT / "tests" / "helpers" / "wordcount.py").read_text(encoding="utf-8")


def test_the_webhook_page_shows_the_receiver_snippet_the_acceptance_tests_verify_with() -> None:
    page = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    shown = page.split("<!-- webhook-verify:begin -->\n```python\n", 1)[1].split(
        "```\n<!-- webhook-verify:end", 1
    )[0]
    assert shown == (ROOT / "tests" / "helpers" / "webhook_verify.py").read_text(encoding="utf-8")
