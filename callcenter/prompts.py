"""The IVR prompts: Mandarin texts in `ivr/prompts.toml`, built into the WAV files
Asterisk plays (8 kHz mono 16-bit PCM) under `<state_dir>/prompts/<name>.wav`.

Text to speech: **pyttsx3 driving espeak-ng** (the design's choice), voice and rate
from the `[tts]` table. pyttsx3 2.99's espeak driver synthesizes asynchronously
(espeak-ng's AUDIO_OUTPUT_RETRIEVAL mode calls back from its own thread), and its
`runAndWait()` does not reliably wait: on a fresh engine it returns 10 ms after
synthesis *started*, so a long text is written later, and a second `save_to_file`
issued before then makes the driver write the first text into the second file (both
seen here). So `Speaker.save` waits for pyttsx3's `finished-utterance` notification,
which the driver sends only after it has closed the WAV file (polling for the file
would see it half-written), with a timeout, then checks the file. One utterance is in
flight at a time, and the next starts only once espeak-ng is idle again: started in
the moment between the notification and idle, the driver cancels it (seen under CPU
load; `Speaker._wait_idle`). pyttsx3 was kept over running the `espeak-ng` program
because with those two waits it is reliable and quick (one library load, ~12 ms of TTS
per prompt, no process per prompt); the driver's stray "Audio saved to ..." print is
kept out of our output.

Conversion: pydub hands the 22 050 Hz espeak-ng output to ffmpeg, which resamples
with its own (anti-aliased) resampler to 8 kHz mono pcm_s16le and writes a plain
44-byte header (`bitexact`, no LIST chunk); pydub's own `set_frame_rate` is not used
because it aliases. Every result is checked to be 8000 Hz, mono, 16-bit.

Cache: a built prompt is stored as `<prompts>/.cache/<key>.wav`, the key a hash of
(spoken text, voice, rate, output format, recipe). A build first looks there, so an
unchanged prompt costs no TTS; `<name>.wav` is a hard link to its cache entry and is
left alone when it already is. Files are written under a temporary name and renamed
into place, so Asterisk never plays a half-written prompt.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import tomllib
import unicodedata
import warnings
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.calls.machine import POSITION_MAX
from callcenter.errors import ConfigError, HotlineError
from callcenter.settings import Settings

Progress = Callable[[str], None]

PROMPTS_FILE = Path("ivr") / "prompts.toml"
# The names the controller plays. `position` is the template of position_1..POSITION_MAX.
REQUIRED = (
    "greeting", "menu", "hold", "position_next", "position", "position_many", "goodbye",
    "invalid", "nuisance_warning", "callback_intro", "callback_thanks", "apology",
    "line_busy",
)
POSITION_TEMPLATE = "position"
SAMPLE_RATE = 8000
OUTPUT_FORMAT = f"wav pcm_s16le {SAMPLE_RATE} Hz mono"
# Bump when synthesis or conversion changes in a way the key cannot see: every prompt
# is then rebuilt once.
RECIPE = "pyttsx3+espeak-ng, ffmpeg -1.5 dB + swr, bitexact header, 1"
RATE_RANGE = (80, 450)  # what espeak-ng accepts, words per minute
SYNTH_TIMEOUT = 30.0  # seconds for one utterance; a normal one takes 10-20 ms
STALE_TEMP_AGE = 600.0  # temporary files older than this were left by a crashed build
INSTALL_HINT = "apt-get install espeak-ng ffmpeg"

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_VOICE = re.compile(r"[A-Za-z0-9_/+-]+")
_DIGITS = "零一二三四五六七八九"
_ASCII_DIGIT_RUN = re.compile(r"[0-9０-９]+")
_FFMPEG_WAV_8K = [
    # espeak-ng peaks at 0.996 of full scale and the resampler's ringing overshoots it:
    # 1.5 dB of headroom keeps every sample from clipping.
    "-af", "volume=-1.5dB",
    "-ar", str(SAMPLE_RATE), "-ac", "1", "-acodec", "pcm_s16le",
    # A canonical 44-byte header: no LIST/INFO chunk naming the encoder.
    "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
]


class PromptError(HotlineError):
    """A prompt cannot be synthesized or converted (a missing tool, a failed run)."""


# --------------------------------------------------------------------------- pure part


def chinese_number(n: int) -> str:
    """`n` in Chinese numerals as read aloud: 0 零, 10 十, 11 十一, 21 二十一, 101 一百零一."""
    if not 0 <= n <= 9999:
        raise ValueError(f"chinese_number covers 0..9999, got {n}")
    if n < 10:
        return _DIGITS[n]
    if n < 20:  # 十, 十一 .. 十九: a leading 一 is not said
        return "十" + (_DIGITS[n - 10] if n > 10 else "")
    parts: list[str] = []
    zero_pending = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero_pending = bool(parts)
            continue
        if zero_pending:  # one 零 stands for any run of inner zeros: 一千零一
            parts.append("零")
            zero_pending = False
        parts.append(_DIGITS[digit] + unit)
    return "".join(parts)


def chinese_count(n: int) -> str:
    """`n` as said before a measure word: two is 两 (两位), otherwise `chinese_number`."""
    return "两" if n == 2 else chinese_number(n)


def spoken_text(text: str) -> str:
    """What espeak-ng is given: runs of ASCII digits become digit characters read one by
    one (12345 -> 一二三四五), as a hotline or phone number is said; espeak-ng would
    otherwise read 12345 as one large number."""
    return _ASCII_DIGIT_RUN.sub(lambda m: "".join(_DIGITS[unicodedata.digit(c)] for c in m.group()), text)


def cache_key(text: str, voice: str, rate: int) -> str:
    """The cache entry of one spoken text: changes with anything that changes the audio."""
    material = {"text": text, "voice": voice, "rate": rate, "format": OUTPUT_FORMAT, "recipe": RECIPE}
    return hashlib.sha256(json.dumps(material, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PromptSet:
    """The prompts file read and checked: texts by name (templates expanded) and voice."""

    source: Path
    texts: Mapping[str, str]
    voice: str
    rate: int


def load_prompts(home: Path) -> PromptSet:
    """Read `<home>/ivr/prompts.toml`; ConfigError naming the file and key on any fault."""
    path = home / PROMPTS_FILE
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: prompts file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {' '.join(str(exc).split())}") from None

    voice, rate = _tts_table(path, raw.pop("tts", None))
    for name in REQUIRED:
        if name not in raw:
            raise ConfigError(f"{path}: missing prompt {name!r} (required: the controller plays it)")
    for name, value in raw.items():
        if isinstance(value, dict):
            raise ConfigError(f"{path}: unknown table [{name}] (only [tts] is known)")
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{path}: prompt name {name!r} must be lower-case letters, digits and _")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: prompt {name!r} must be non-empty text, got {value!r}")

    template = raw[POSITION_TEMPLATE]
    if "{n}" not in template:
        raise ConfigError(
            f"{path}: prompt {POSITION_TEMPLATE!r} must contain {{n}} where the number of callers ahead goes"
        )
    texts: dict[str, str] = {}
    for name, value in raw.items():  # file order, the template's prompts where it stands
        if name != POSITION_TEMPLATE:
            texts[name] = value
            continue
        for n in range(1, POSITION_MAX + 1):
            generated = f"{POSITION_TEMPLATE}_{n}"
            if generated in raw:
                raise ConfigError(f"{path}: prompt {generated!r} is made from the {POSITION_TEMPLATE!r} template; "
                                  "remove it")
            texts[generated] = template.replace("{n}", chinese_count(n))
    return PromptSet(source=path, texts=texts, voice=voice, rate=rate)


def _tts_table(path: Path, table: object) -> tuple[str, int]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: missing [tts] table (voice, rate)")
    unknown = sorted(set(table) - {"voice", "rate"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting tts.{unknown[0]}")
    voice, rate = table.get("voice"), table.get("rate")
    if not isinstance(voice, str) or not _VOICE.fullmatch(voice):
        raise ConfigError(f"{path}: tts.voice must be an espeak-ng voice name such as 'cmn-latn-pinyin', got {voice!r}")
    low, high = RATE_RANGE
    if isinstance(rate, bool) or not isinstance(rate, int) or not low <= rate <= high:
        raise ConfigError(f"{path}: tts.rate must be words per minute, a whole number {low}-{high}, got {rate!r}")
    return voice, rate


def prompt_texts(home: Path) -> dict[str, str]:
    """Every prompt to build, by name, from `<home>/ivr/prompts.toml` (positions expanded)."""
    return dict(load_prompts(home).texts)


# --------------------------------------------------------------------------- TTS


class Speaker:
    """pyttsx3 driving espeak-ng: one utterance at a time into a 22 050 Hz WAV file."""

    def __init__(self, voice: str, rate: int, where: str = str(PROMPTS_FILE)) -> None:
        try:
            import pyttsx3
        except ImportError as exc:
            raise PromptError(f"pyttsx3 is not installed in this environment ({exc}): pip install -e .") from None
        try:
            # espeak-ng's library is loaded here; pyttsx3 raises RuntimeError without it.
            engine = pyttsx3.init("espeak")
        except (RuntimeError, OSError) as exc:
            raise PromptError(f"espeak-ng is not usable ({exc}): {INSTALL_HINT}") from None
        ids = {str(v.id).lower() for v in engine.getProperty("voices")}
        if voice.lower() not in ids and not any(i.endswith("/" + voice.lower()) for i in ids):
            raise ConfigError(f"{where}: tts.voice {voice!r} is not an installed espeak-ng voice "
                              "(`espeak-ng --voices` lists them)")
        from pyttsx3.drivers import _espeak  # the loaded library: IsPlaying(), see save()

        self._espeak = _espeak
        self._engine = engine
        self._voice = voice
        # The callbacks close over these, not over self: no cycle engine <-> Speaker, so the
        # engine (and espeak-ng's callback to it) is released as soon as the build drops it.
        done = threading.Event()
        outcome: dict[str, object] = {}
        errors: list[BaseException] = []

        def finished(completed: bool = True, **_: object) -> None:
            outcome["completed"] = completed
            done.set()

        def failed(exception: BaseException | None = None, **_: object) -> None:
            errors.append(exception or RuntimeError("unknown pyttsx3 error"))

        self._done, self._outcome, self._errors = done, outcome, errors
        self._tokens = [engine.connect("finished-utterance", finished), engine.connect("error", failed)]
        engine.setProperty("voice", voice)
        engine.setProperty("rate", rate)

    def save(self, text: str, path: Path) -> None:
        """Synthesize `text` into `path`; return once the file is complete."""
        for attempt in (1, 2):
            self._wait_idle()
            self._done.clear()
            self._outcome.clear()
            self._errors.clear()
            path.unlink(missing_ok=True)
            # The driver prints "Audio saved to ..." from espeak-ng's thread before notifying.
            with contextlib.redirect_stdout(io.StringIO()):
                self._engine.save_to_file(text, str(path))
                self._engine.runAndWait()  # may return before the file is written: wait below
                finished = self._done.wait(SYNTH_TIMEOUT)
            if self._errors:
                raise PromptError(f"espeak-ng (voice {self._voice}) failed: {self._errors[0]}")
            if not finished:
                raise PromptError(f"espeak-ng did not finish speaking {text[:24]!r} within {SYNTH_TIMEOUT:.0f} s")
            if self._outcome.get("completed"):
                break
            # Cancelled by the driver (see _wait_idle); once more, then give up.
            if attempt == 2:
                raise PromptError(f"espeak-ng cancelled speaking {text[:24]!r} twice")
        if not path.is_file() or path.stat().st_size <= 44:
            raise PromptError(f"espeak-ng reported done but wrote no audio to {path}")

    def _wait_idle(self) -> None:
        """Wait until espeak-ng has wrapped up the previous utterance. Its thread announces
        the end (and we return) a moment before it is idle; a `runAndWait` in that moment
        makes the driver cancel the *new* utterance (seen here under CPU load: 3 in 400)."""
        deadline = time.monotonic() + SYNTH_TIMEOUT
        while self._espeak.IsPlaying():
            if time.monotonic() > deadline:
                raise PromptError(f"espeak-ng stayed busy for {SYNTH_TIMEOUT:.0f} s")
            time.sleep(0.002)

    def close(self) -> None:
        for token in self._tokens:
            self._engine.disconnect(token)
        self._tokens = []


# --------------------------------------------------------------------------- conversion


def _audio_segment() -> Any:
    """pydub's AudioSegment, imported on first use (a cached build never needs it)."""
    with warnings.catch_warnings():
        # pydub 0.25 imports the stdlib `audioop` (deprecated since Python 3.11) and has
        # regexes with invalid escapes (a compile-time warning when no .pyc exists);
        # neither touches what is used here, and the test suite turns warnings into errors.
        warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="invalid escape sequence", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="invalid escape sequence", category=SyntaxWarning)
        from pydub import AudioSegment
    return AudioSegment


def _convert(source: Path, target: Path) -> None:
    """espeak-ng's WAV -> 8 kHz mono 16-bit PCM WAV, resampled by ffmpeg (through pydub)."""
    audio_segment = _audio_segment()
    from pydub.exceptions import CouldntDecodeError, CouldntEncodeError

    try:
        # An open file, not a path: pydub leaves a file it opened itself unclosed.
        with open(source, "rb") as raw:
            segment = audio_segment.from_wav(raw)
        with open(target, "wb") as out:
            segment.export(out, format="wav", parameters=_FFMPEG_WAV_8K)
            out.flush()
            os.fsync(out.fileno())
    except (CouldntDecodeError, CouldntEncodeError) as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise PromptError(f"ffmpeg could not convert {source.name}: {lines[-1] if lines else exc}") from None


def _wav_seconds(path: Path) -> float | None:
    """Length of a WAV that is 8 kHz mono 16-bit PCM with audio in it, else None."""
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getcomptype())
            frames = wav.getnframes()
    except (OSError, EOFError, wave.Error):
        return None
    if shape != (SAMPLE_RATE, 1, 2, "NONE") or frames == 0:
        return None
    return frames / SAMPLE_RATE


def _require_tools() -> None:
    # espeak-ng's library is checked when the Speaker loads it; ffmpeg is run by pydub.
    if shutil.which("ffmpeg") is None:
        raise PromptError(f"building prompts needs ffmpeg (and espeak-ng): {INSTALL_HINT}")


# --------------------------------------------------------------------------- build


def build_prompts(settings: Settings, progress: Progress = print, *, force: bool = False) -> Path:
    """Build every prompt of `ivr/prompts.toml` into `<state_dir>/prompts/<name>.wav`
    (8 kHz mono 16-bit PCM) and return that folder. Unchanged prompts come from the
    cache without any TTS; `force` rebuilds them all."""
    prompts = load_prompts(settings.home)
    folder = settings.paths.state_dir / "prompts"
    cache = folder / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    speaker: Speaker | None = None
    built = 0
    keys: set[str] = set()
    try:
        for name, text in prompts.texts.items():
            spoken = spoken_text(text)
            key = cache_key(spoken, prompts.voice, prompts.rate)
            entry = cache / f"{key}.wav"
            if (force and key not in keys) or _wav_seconds(entry) is None:
                if speaker is None:
                    _require_tools()
                    speaker = Speaker(prompts.voice, prompts.rate, where=str(prompts.source))
                try:
                    seconds = _synthesize(speaker, spoken, entry)
                except PromptError as exc:
                    raise PromptError(f"prompt {name}: {exc}") from None
                built += 1
                progress(f"prompt {name}: built ({seconds:.1f} s of audio)")
            keys.add(key)
            _publish(entry, folder / f"{name}.wav")
    finally:
        if speaker is not None:
            speaker.close()
    _prune(folder, set(prompts.texts), keys, progress)
    total = len(prompts.texts)
    progress(f"{total} prompts: {built} built, {total - built} cached")
    return folder


def _synthesize(speaker: Speaker, text: str, entry: Path) -> float:
    """TTS, conversion and check into a scratch folder, then one rename into the cache."""
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
    try:
        raw, converted = work / "tts.wav", work / "8k.wav"
        speaker.save(text, raw)
        _convert(raw, converted)
        seconds = _wav_seconds(converted)
        if seconds is None:
            raise PromptError(f"ffmpeg's output for {text[:24]!r} is not 8000 Hz mono 16-bit PCM with audio")
        os.chmod(converted, 0o644)  # Asterisk reads it as its own user
        os.replace(converted, entry)
        return seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _publish(entry: Path, target: Path) -> None:
    """Put the cache entry at `target` atomically, leaving it untouched when already there."""
    if target.exists() and (os.path.samefile(entry, target) or filecmp.cmp(entry, target, shallow=False)):
        return
    staged = entry.parent / f".tmp-{secrets.token_hex(6)}.wav"
    try:
        os.link(entry, staged)
    except OSError:  # a file system without hard links
        shutil.copyfile(entry, staged)
        os.chmod(staged, 0o644)
    os.replace(staged, target)


def _prune(folder: Path, names: set[str], keys: set[str], progress: Progress) -> None:
    """Remove prompts no longer in the file, unused cache entries and old scratch files."""
    for wav in sorted(folder.glob("*.wav")):
        if wav.stem not in names:
            wav.unlink(missing_ok=True)
            progress(f"prompt {wav.stem}: removed (no longer in {PROMPTS_FILE})")
    now = time.time()
    for item in (folder / ".cache").iterdir():
        if item.name.startswith(".tmp-"):
            # Another build may be using a fresh one; only a crash leaves one behind for long.
            with contextlib.suppress(FileNotFoundError):
                if now - item.lstat().st_mtime > STALE_TEMP_AGE:
                    if item.is_dir():
                        shutil.rmtree(item)
                    else:
                        item.unlink()
        elif item.suffix == ".wav" and item.stem not in keys:
            item.unlink(missing_ok=True)
