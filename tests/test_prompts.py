"""The IVR prompts: texts from ivr/prompts.toml, built by real TTS (pyttsx3 + espeak-ng)
and ffmpeg into the 8 kHz WAV files Asterisk plays, cached by text."""

from __future__ import annotations

import argparse
import array
import hashlib
import math
import shutil
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter import prompts
from callcenter.calls.machine import POSITION_MAX, callers_ahead_prompt
from callcenter.cli import prompts as prompts_cli
from callcenter.errors import ConfigError
from callcenter.prompts import (
    PromptError,
    build_prompts,
    chinese_number,
    prompt_texts,
    spoken_text,
)
from callcenter.settings import Settings
from tests.harness import HOME, instance_env, settings_for

REPO_PROMPTS = (HOME / "ivr" / "prompts.toml").read_text(encoding="utf-8")
NAMES = sorted(prompt_texts(HOME))
FULL_SCALE = 32768


@dataclass
class Built:
    settings: Settings
    folder: Path
    lines: list[str]
    seconds: float


def settings_with_home(state: Path, home: Path | None = None) -> Settings:
    """Settings for a throw-away state folder; `home` supplies another ivr/prompts.toml."""
    if home is None:
        return settings_for(instance_env(state))
    return settings_for(instance_env(
        state, HOTLINE_HOME=str(home), HOTLINE_CONFIG=str(HOME / "config" / "hotline.toml")))


def home_with_prompts(root: Path, text: str) -> Path:
    home = root / "home"
    (home / "ivr").mkdir(parents=True)
    (home / "ivr" / "prompts.toml").write_text(text, encoding="utf-8")
    return home


def samples(path: Path) -> tuple[wave._wave_params, array.array[int]]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        data = array.array("h", wav.readframes(wav.getnframes()))
    return params, data


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.wav")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One full build of the repository's prompts, with real TTS (a few seconds)."""
    settings = settings_with_home(tmp_path_factory.mktemp("prompts-state"))
    lines: list[str] = []
    started = time.monotonic()
    folder = build_prompts(settings, progress=lines.append)
    return Built(settings, folder, lines, time.monotonic() - started)


@pytest.fixture
def no_tts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    class NoSpeaker:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the build used TTS")

    monkeypatch.setattr(prompts, "Speaker", NoSpeaker)
    yield


# --------------------------------------------------------------------------- texts


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "零"), (1, "一"), (2, "二"), (9, "九"), (10, "十"), (11, "十一"), (19, "十九"), (20, "二十"),
     (21, "二十一"), (30, "三十"), (99, "九十九"), (100, "一百"), (101, "一百零一"), (110, "一百一十"),
     (1001, "一千零一"), (1010, "一千零一十"), (2300, "二千三百")],
)
def test_chinese_number_writes_numbers_as_they_are_read(n: int, text: str) -> None:
    assert chinese_number(n) == text


def test_chinese_number_refuses_numbers_it_cannot_write() -> None:
    with pytest.raises(ValueError):
        chinese_number(-1)
    with pytest.raises(ValueError):
        chinese_number(10000)


def test_every_prompt_the_controller_plays_is_in_the_file_with_positions_expanded() -> None:
    texts = prompt_texts(HOME)
    for name in ("greeting", "menu", "hold", "position_next", "position_many", "goodbye", "invalid",
                 "nuisance_warning", "callback_intro", "callback_thanks"):
        assert texts[name].strip(), name
    assert "position" not in texts  # the template itself is not a prompt
    assert [n for n in texts if n.startswith("position_") and n[9:].isdigit()] == [
        f"position_{n}" for n in range(1, POSITION_MAX + 1)]
    assert texts["position_1"] == "您前面还有一位，请稍候。"
    assert texts["position_2"] == "您前面还有两位，请稍候。"  # 两 before a measure word
    assert texts["position_11"] == "您前面还有十一位，请稍候。"
    assert texts["position_21"] == "您前面还有二十一位，请稍候。"
    assert texts["position_30"] == "您前面还有三十位，请稍候。"
    # The greeting names the hotline and says the call is recorded (GB/T 33358: nothing more).
    assert "12345" in texts["greeting"] and "录音" in texts["greeting"]
    assert len(texts) == 42  # the twelve named prompts (the template expanded) and thirty positions


def test_the_hotline_number_is_spoken_digit_by_digit() -> None:
    assert spoken_text("这里是12345市民服务热线") == "这里是一二三四五市民服务热线"
    assert spoken_text("请按零") == "请按零"


@pytest.mark.parametrize(("ahead", "name"), [(0, "position_next"), (1, "position_1"), (30, "position_30"),
                                             (31, "position_many"), (500, "position_many")])
def test_position_prompt_names_the_announcement_for_the_callers_ahead(ahead: int, name: str) -> None:
    assert callers_ahead_prompt(ahead) == name
    assert name in NAMES


def test_a_prompts_file_missing_greeting_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    text = "\n".join(line for line in REPO_PROMPTS.splitlines() if not line.startswith("greeting ="))
    home = home_with_prompts(tmp_path, text)
    with pytest.raises(ConfigError, match=r"prompts\.toml: missing prompt 'greeting'") as caught:
        prompt_texts(home)
    assert "\n" not in str(caught.value)


def test_a_position_template_without_n_is_a_config_error(tmp_path: Path) -> None:
    text = REPO_PROMPTS.replace("您前面还有{n}位", "您前面还有几位")
    home = home_with_prompts(tmp_path, text)
    with pytest.raises(ConfigError, match=r"prompts.toml: prompt 'position' must contain \{n\}"):
        prompt_texts(home)


def test_a_prompts_file_that_is_not_toml_is_a_config_error(tmp_path: Path) -> None:
    home = home_with_prompts(tmp_path, 'greeting = "unterminated\n')
    with pytest.raises(ConfigError, match=r"prompts\.toml: not valid TOML") as caught:
        prompt_texts(home)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "named"),
    [(('rate = 180', 'rate = "fast"'), "tts.rate"), (('voice = "cmn-latn-pinyin"', 'voice = ""'), "tts.voice"),
     (('[tts]', '[tts]\npitch = 40'), "tts.pitch"), (('[tts]', 'Extra-Notice = "x"\n[tts]'), "'Extra-Notice'")],
)
def test_a_bad_tts_setting_or_prompt_name_is_a_config_error_naming_it(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    home = home_with_prompts(tmp_path, REPO_PROMPTS.replace(*change))
    with pytest.raises(ConfigError, match=named):
        prompt_texts(home)


# --------------------------------------------------------------------------- building


@pytest.mark.parametrize("name", NAMES)
def test_each_prompt_is_built_as_8khz_mono_16bit_wav_with_speech(built: Built, name: str) -> None:
    path = built.folder / f"{name}.wav"
    params, data = samples(path)
    assert (params.framerate, params.nchannels, params.sampwidth, params.comptype) == (8000, 1, 2, "NONE")
    assert params.nframes / params.framerate > 0.5
    rms = math.sqrt(sum(x * x for x in data) / len(data))
    assert rms > 0.01 * FULL_SCALE, f"{name}: RMS {rms:.0f} is silence, not speech"
    assert max(abs(min(data)), max(data)) < FULL_SCALE - 1, f"{name}: clipped"
    assert path.read_bytes()[36:40] == b"data"  # a plain 44-byte header, as Asterisk expects
    assert path.stat().st_mode & 0o444 == 0o444  # Asterisk reads it as its own user


def test_each_prompt_holds_its_own_text(built: Built) -> None:
    # pyttsx3 left alone writes one text into the next prompt's file: no two may share audio.
    digests = {hashlib.sha256(samples(built.folder / f"{n}.wav")[1].tobytes()).hexdigest() for n in NAMES}
    assert len(digests) == len(NAMES)
    seconds = {n: samples(built.folder / f"{n}.wav")[0].nframes / 8000 for n in ("callback_intro", "invalid")}
    assert seconds["callback_intro"] > 3 * seconds["invalid"]


def test_the_first_build_reports_each_prompt_and_a_summary(built: Built) -> None:
    assert built.lines[-1] == f"{len(NAMES)} prompts: {len(NAMES)} built, 0 cached"
    assert any(line.startswith("prompt greeting: built (") and line.endswith(" s of audio)")
               for line in built.lines)
    assert sorted(p.stem for p in built.folder.glob("*.wav")) == NAMES
    assert not [p for p in (built.folder / ".cache").iterdir() if p.name.startswith(".tmp-")]


def test_a_second_build_with_unchanged_texts_uses_the_cache_without_tts(built: Built, no_tts: None) -> None:
    before = stamps(built.folder)
    lines: list[str] = []
    started = time.monotonic()
    assert build_prompts(built.settings, progress=lines.append) == built.folder
    elapsed = time.monotonic() - started
    assert lines == [f"{len(NAMES)} prompts: 0 built, {len(NAMES)} cached"]
    assert stamps(built.folder) == before
    assert elapsed < 1.0, f"a cached build took {elapsed:.2f} s"


def test_a_changed_text_rebuilds_only_that_prompt(built: Built, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    shutil.copytree(built.settings.paths.state_dir / "prompts", state / "prompts")
    new_hold = "座席全忙，请您稍候。"
    home = home_with_prompts(tmp_path, REPO_PROMPTS.replace("座席正忙，请您耐心等待。", new_hold))
    settings = settings_with_home(state, home)
    spoken: list[str] = []

    class CountingSpeaker(prompts.Speaker):
        def save(self, text: str, path: Path) -> None:
            spoken.append(text)
            super().save(text, path)

    monkeypatch.setattr(prompts, "Speaker", CountingSpeaker)
    folder = state / "prompts"
    before = stamps(folder)
    lines: list[str] = []
    build_prompts(settings, progress=lines.append)
    after = stamps(folder)

    assert spoken == [new_hold]
    assert [n for n in before if after[n] != before[n]] == ["hold.wav"]
    assert lines[0].startswith("prompt hold: built (")
    assert lines[-1] == f"{len(NAMES)} prompts: 1 built, {len(NAMES) - 1} cached"
    params, data = samples(folder / "hold.wav")
    assert params.framerate == 8000 and data != samples(built.folder / "hold.wav")[1]


def test_a_prompt_no_longer_in_the_file_is_removed(built: Built, tmp_path: Path, no_tts: None) -> None:
    state = tmp_path / "state"
    shutil.copytree(built.settings.paths.state_dir / "prompts", state / "prompts")
    (state / "prompts" / "old_notice.wav").write_bytes(b"RIFF")
    lines: list[str] = []
    build_prompts(settings_with_home(state), progress=lines.append)
    assert not (state / "prompts" / "old_notice.wav").exists()
    assert "prompt old_notice: removed" in lines[0]


def test_force_rebuilds_every_prompt(built: Built, tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(built.settings.paths.state_dir / "prompts", state / "prompts")
    lines: list[str] = []
    build_prompts(settings_with_home(state), progress=lines.append, force=True)
    assert lines[-1] == f"{len(NAMES)} prompts: {len(NAMES)} built, 0 cached"


def test_the_cli_handler_builds_and_says_where(built: Built, no_tts: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert prompts_cli.build(built.settings, argparse.Namespace()) == 0
    out = capsys.readouterr().out
    assert f"{len(NAMES)} prompts: 0 built" in out
    assert str(built.folder) in out


# --------------------------------------------------------------------------- missing tools


def test_missing_ffmpeg_is_a_prompt_error_saying_what_to_install(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "ffmpeg" else real_which(name))
    with pytest.raises(PromptError, match="apt-get install espeak-ng ffmpeg"):
        build_prompts(settings_with_home(tmp_path), progress=lambda line: None)


def test_missing_espeak_ng_is_a_prompt_error_saying_what_to_install(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import pyttsx3

    def no_library(driver: str | None = None, debug: bool = False) -> None:
        # What pyttsx3's espeak driver raises when libespeak-ng.so.1 cannot be loaded.
        raise RuntimeError("This means you probably do not have eSpeak or eSpeak-ng installed!")

    monkeypatch.setattr(pyttsx3, "init", no_library)
    with pytest.raises(PromptError, match=r"espeak-ng is not usable .*apt-get install espeak-ng ffmpeg"):
        build_prompts(settings_with_home(tmp_path), progress=lambda line: None)


def test_an_unknown_voice_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    home = home_with_prompts(tmp_path, REPO_PROMPTS.replace('voice = "cmn-latn-pinyin"', 'voice = "xx-nowhere"'))
    with pytest.raises(ConfigError, match=r"prompts\.toml: tts\.voice 'xx-nowhere' is not an installed espeak-ng"):
        build_prompts(settings_with_home(tmp_path / "state", home), progress=lambda line: None)
