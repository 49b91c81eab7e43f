"""Stories from people who went: shown only with consent on record, and labelled as stories."""

from __future__ import annotations

import pytest

from kiosk.content.build import build_release
from kiosk.content.source import load_content
from kiosk.device.install import ReleaseStore
from kiosk.device.usage import Usage
from kiosk.device.web import create_app
from kiosk.errors import ContentInvalid
from tests.conftest import copy_content, device_settings
from tests.test_source import TODAY

PHONE = {"REMOTE_ADDR": "10.42.0.23"}


def as_story(root, extra: str) -> None:
    meta = root / "guides" / "passport" / "guide.toml"
    meta.write_text(meta.read_text() + extra)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('kind = "story"\nnames_changed = true\n', "a story needs consent = true"),
        ('kind = "story"\nconsent = false\nnames_changed = true\n', "a story needs consent = true"),
        ('kind = "story"\nconsent = "yes"\nnames_changed = true\n', "a story needs consent"),
        ('kind = "story"\nconsent = true\n', "names_changed = true or false"),
        ('kind = "poem"\n', 'kind must be "guide" or "story"'),
        ("consent = true\n", "consent is for stories only"),
    ],
    ids=["no consent", "consent false", "consent text", "names unsaid", "unknown kind", "guide"],
)
def test_a_story_without_consent_on_record_is_refused(tmp_path, extra, message):
    root = copy_content(tmp_path / "c")
    as_story(root, extra)
    with pytest.raises(ContentInvalid) as info:
        load_content(root, today=TODAY)
    found = [str(p) for p in info.value.problems if p.severity == "error"]
    assert any("passport/guide.toml" in p and message in p for p in found), found


def test_a_story_is_labelled_with_its_names_changed_note(tmp_path, keypair, speaker):
    root = copy_content(tmp_path / "c")
    as_story(root, 'kind = "story"\nconsent = true\nnames_changed = true\n')
    out = tmp_path / "release"
    result = build_release(root, out, keypair[0], speaker, version=5)
    assert any("story is not all recorded" in str(w) for w in result.warnings)
    data = tmp_path / "device"
    ReleaseStore(data).install(out, [keypair[1]])
    usage = Usage(tmp_path / "usage.db", start=False)
    try:
        client = create_app(device_settings(data, keypair[1].source), usage=usage).test_client()
        page = client.get("/ne/guide/passport", environ_base=PHONE).get_data(as_text=True)
        assert '<p class="kind">विदेश गएका एक जनाको कथा</p>' in page
        assert "मानिसहरूको सुरक्षाका लागि नामहरू बदलिएका छन्।" in page
        home = client.get("/en/", environ_base=PHONE).get_data(as_text=True)
        assert home.count('<span class="kind">A story from someone who went</span>') == 1
        other = client.get("/en/guide/help-abroad", environ_base=PHONE).get_data(as_text=True)
        assert 'class="kind"' not in other
    finally:
        usage.close()
