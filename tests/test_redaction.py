"""What a published case may not show: phone numbers, ID numbers, licence plates and the
citizen's name go; dates, ticket numbers, amounts and addresses stay."""

from __future__ import annotations

import pytest

from callcenter.cases.redaction import redact


@pytest.mark.parametrize(("text", "name", "expected", "kinds"), [
    ("联系我：13835612345。", None, "联系我：[电话]。", ["phone"]),
    ("电话138 3561 2345或+86 13835612345", None, "电话[电话]或[电话]", ["phone", "phone"]),
    ("座机0356-2021234，或2021234", None, "座机[电话]，或[电话]", ["phone", "phone"]),
    ("身份证140502199001011234号", None, "身份证[身份证号]号", ["id_number"]),
    ("证件号14050219900101123X", None, "证件号[身份证号]", ["id_number"]),
    ("车牌晋E·12345停在楼下，晋ED12345也是", None, "车牌[车牌]停在楼下，[车牌]也是", ["plate", "plate"]),
    ("赵桂芳反映路灯坏了，赵女士希望尽快修", "赵桂芳", "某某反映路灯坏了，某某希望尽快修", ["name", "name"]),
    ("2009年1月5日，工单12，补贴300元，凤台街32号", "赵桂芳", "2009年1月5日，工单12，补贴300元，凤台街32号", []),
])
def test_the_citizens_details_are_removed_and_the_rest_is_kept(text: str, name: str | None, expected: str,
                                                              kinds: list[str]) -> None:
    done = redact(text, name)
    assert done.text == expected
    assert [r.kind for r in done.removals] == kinds
    for removal in done.removals:  # each place points at its placeholder in the redacted text
        assert done.text[removal.start:removal.end] in ("[电话]", "[身份证号]", "[车牌]", "某某")
