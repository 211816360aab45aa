"""Keyword-spotting speech synthesized offline with eSpeak NG: the data of ``--task keywords``.

Twelve classes as in Speech Commands v0.02's 12-class task: yes, no, up, down, left, right, on,
off, stop, go, ``_silence_`` and ``_unknown_`` (other words). Every clip is 1 s of 16 kHz int16
PCM made here, on this machine, from nothing but the ``espeak-ng`` program (Debian package
``espeak-ng``) and a seed: no download, ever.

How a clip is made
    1. eSpeak NG says the word (``espeak-ng -v ACCENT+VARIANT -s SPEED -p PITCH -a AMPLITUDE
       --stdout WORD``, one subprocess per utterance, arguments as a list, several at a time).
       A *voice* is an eSpeak NG variant (``espeak-ng --voices=variant``: ~100 timbres, male,
       female, whisper, croak, Klatt models) and is spoken with one of eight English accents
       (ACCENTS); speed 110-220 words per minute, pitch 15-85, amplitude 50-180.
    2. Its 22,050 Hz output is resampled to 16 kHz by the exact ratio 320/441 (a polyphase
       Kaiser-windowed sinc, ``keywords_audio.resample``), trimmed to the utterance (-40 dB of
       its peak), and set to a speech level of -32 to -12 dBFS RMS.
    3. It is placed in the second with a random shift of up to ±``shift_ms`` around the centre
       (kept inside the clip), and mixed with background noise (probability ``noise_prob``):
       white, pink, brown, mains hum (50/60 Hz and harmonics) or babble (3-6 talkers of
       synthesized sentences that contain no keyword, spoken by the same split's voices) at an
       SNR of 5-30 dB over the utterance. A mix that would clip is scaled down.
    ``_silence_`` clips are noise without babble (stationary: no speech energy) at -80 to -30
    dBFS, or digital silence; ``_unknown_`` clips say one of UNKNOWN_WORDS like a keyword.

Held-out voices
    The voices are split by *family* (a variant and its numbered siblings: iven..iven4,
    klatt..klatt6 and caleb, which sounds like klatt, anika and
    anikaRobot, ...), seeded: ``test_voices`` of the
    families only ever speak test clips, ``val_voices`` validation clips, the rest training
    clips; accents are shared. The accuracy on ``test`` is accuracy on voices never heard in
    training.

Determinism and cache
    Every choice comes from ``numpy.random.default_rng`` seeded by (seed, split, class), and
    eSpeak NG's output is deterministic, so one configuration gives identical bytes on every
    run and with any number of parallel jobs. ``load`` caches the set as one ``.npz`` under
    ``cache_dir`` named by a hash of the configuration, the eSpeak NG version and the voices
    installed; a second ``load`` reads it back in well under a second.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from picoml.errors import PicomlError
from picoml.outputs import write_file
from picoml.tasks.keywords_audio import NOISE_KINDS, SILENCE_NOISE_KINDS, active_region, noise, parse_wav, resample, rms

DATA_VERSION = 2  # bump when a change here changes the bytes of a clip
SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # 1 s
WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
CLASSES = (*WORDS, SILENCE, UNKNOWN)
SPLITS = ("train", "val", "test")
#: Speech Commands' other words (its 20 auxiliary words and the 5 added in v0.02). Near misses of
#: the keywords ("yet", "shop", "goat", "bright", ...) are left out on purpose, as in Speech
#: Commands: with them the task becomes telling a keyword from its rhymes, which a 1 s
#: keyword spotter is not asked to do (measured: a plain classifier confused them all).
UNKNOWN_WORDS = (
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine", "one",
    "seven", "sheila", "six", "three", "tree", "two", "wow", "zero", "backward", "follow", "forward",
    "learn", "visual",
)  # fmt: skip
#: babble sentences: no keyword in them, so a noisy clip is not two words at once
BABBLE_TEXTS = (
    "the weather this morning was cold and grey",
    "please bring me a cup of tea with milk",
    "she walked along the river to the market",
    "seven hundred people came to the concert",
    "my brother likes to read books about history",
    "the train to the city leaves at half past nine",
    "we should paint the kitchen a brighter colour",
    "there is a small bakery near the station",
    "the children played football in the garden",
    "a large cat was sleeping by the fire",
    "they bought fresh bread and cheese for lunch",
    "the meeting will begin after the break",
)
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
DEFAULT_VOICE = "default"  # the accent's own voice, no variant
#: variants that are one voice under two names (caleb's audio is klatt's) or one voice made over
#: (anikaRobot is anika through a robot filter): each pair is one family
SAME_VOICE = {"caleb": "klatt", "anikaRobot": "anika", "AnxiousAndy": "Andy"}
#: variants left out: ``fast`` is a speed setting, ``Mr serious`` has a space in its name
EXCLUDED_VARIANTS = frozenset({"fast", "Mr serious"})
INSTALL_HINT = (
    "the keywords task synthesizes its speech with eSpeak NG, and espeak-ng is not installed: "
    "`sudo apt-get install espeak-ng` (Debian/Ubuntu), `brew install espeak-ng` (macOS), "
    "or see https://github.com/espeak-ng/espeak-ng"
)


class EspeakMissingError(PicomlError):
    """``espeak-ng`` is not on PATH (a user error: the CLI prints the one line and exits 2)."""


@dataclass(frozen=True)
class KeywordsConfig:
    """Everything that decides the bytes of the data set (the cache key hashes all of it)."""

    seed: int = 0
    per_class: tuple[int, int, int] = (300, 40, 100)  # clips of each class in train, val, test
    test_voices: float = 0.2  # fraction of voice families held out for test
    val_voices: float = 0.1
    speed: tuple[int, int] = (110, 220)  # words per minute, inclusive
    pitch: tuple[int, int] = (15, 85)
    amplitude: tuple[int, int] = (50, 180)
    level_db: tuple[float, float] = (-32.0, -12.0)  # speech RMS, dBFS
    snr_db: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
    noise_prob: float = 0.8
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    silence_level_db: tuple[float, float] = (-80.0, -30.0)
    digital_silence_prob: float = 0.05
    shift_ms: int = 100
    babble_pool: int = 24  # synthesized sentences per split that babble is mixed from

    @classmethod
    def quick(cls, seed: int = 0) -> KeywordsConfig:
        """A small set for smoke runs and tests: 12 / 4 / 6 clips per class."""
        return cls(seed=seed, per_class=(12, 4, 6), babble_pool=6)

    def checked(self) -> KeywordsConfig:
        bad = [k for k in self.noise_kinds if k not in NOISE_KINDS]
        if bad or len(self.per_class) != 3 or min(self.per_class) < 1:
            raise PicomlError(f"keywords data: bad configuration (noise kinds {bad}, per_class {self.per_class})")
        if not (0 < self.test_voices and 0 < self.val_voices and self.test_voices + self.val_voices < 1):
            raise PicomlError("keywords data: test_voices and val_voices must be > 0 and leave voices to train on")
        return self


@dataclass
class KeywordsData:
    """The synthesized set: ``x`` int16 (N, 16000), ``y`` int64 class indices into CLASSES,
    ``split`` 0/1/2 (train/val/test), ``meta`` one dict per clip (voice, accent, speed, pitch,
    amplitude, level_db, noise, snr_db, shift and onset in samples, ...), ``voices`` the voice
    families of each split."""

    x: np.ndarray
    y: np.ndarray
    split: np.ndarray
    meta: list[dict[str, Any]]
    voices: dict[str, list[str]]
    config: KeywordsConfig
    digest: str
    espeak_version: str
    seconds: float = 0.0
    from_cache: bool = False
    path: Path | None = None
    classes: tuple[str, ...] = field(default=CLASSES)

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of split ``name`` (train, val or test)."""
        m = self.split == SPLITS.index(name)
        return self.x[m], self.y[m]


def espeak_path() -> str:
    """The espeak-ng program, or EspeakMissingError with the one line that says how to get it."""
    p = shutil.which("espeak-ng")
    if p is None:
        raise EspeakMissingError(INSTALL_HINT)
    return p


def _run(argv: list[str], what: str) -> bytes:
    try:
        r = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PicomlError(f"espeak-ng failed on {what}: {e}") from None
    if r.returncode != 0 or not r.stdout:
        msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PicomlError(f"espeak-ng failed on {what} (exit {r.returncode}): {msg[0] if msg else 'no output'}")
    return r.stdout


@lru_cache(maxsize=4)
def _espeak_info(exe: str) -> tuple[str, tuple[str, ...]]:
    """(version line, installed variant names) of the program at ``exe``."""
    version = _run([exe, "--version"], "--version").decode("utf-8", "replace").strip().splitlines()[0]
    listing = _run([exe, "--voices=variant"], "--voices=variant").decode("utf-8", "replace").splitlines()
    names = []
    for line in listing[1:]:
        m = re.search(r"!v/(\S.*?)\s*(\(|$)", line)  # the File column: !v/<file name>
        if m and m.group(1) not in EXCLUDED_VARIANTS:
            names.append(m.group(1).strip())
    return version, tuple(sorted(set(names)))


def family(variant: str) -> str:
    """The voice family of a variant: its name without trailing digits, lower case (f1..f5 and
    m1..m8 are families too: a held-out split never shares a numbered sibling with training)."""
    v = SAME_VOICE.get(variant, variant)
    return re.sub(r"\d+$", "", v.lower()) or v


def split_voices(variants: tuple[str, ...], cfg: KeywordsConfig) -> dict[str, list[str]]:
    """Variants (plus DEFAULT_VOICE, always in training) of each split, split by family, seeded."""
    fams = sorted({family(v) for v in variants})
    rng = np.random.default_rng([cfg.seed, 7919])
    order = [fams[i] for i in rng.permutation(len(fams))]
    n_test = max(1, round(cfg.test_voices * len(fams)))
    n_val = max(1, round(cfg.val_voices * len(fams)))
    if n_test + n_val >= len(fams):
        raise PicomlError(f"keywords data: {len(fams)} voice families installed; too few to hold any out")
    held = {"test": set(order[:n_test]), "val": set(order[n_test : n_test + n_val])}
    out: dict[str, list[str]] = {"train": [DEFAULT_VOICE], "val": [], "test": []}
    for v in variants:
        f = family(v)
        out["test" if f in held["test"] else "val" if f in held["val"] else "train"].append(v)
    return {k: sorted(v) for k, v in out.items()}


def _argv(exe: str, voice: str, accent: str, speed: int, pitch: int, amplitude: int, text: str) -> tuple[str, ...]:
    v = accent if voice == DEFAULT_VOICE else f"{accent}+{voice}"
    return (exe, "-v", v, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude), "--stdout", text)


def _speak(argv: tuple[str, ...]) -> np.ndarray:
    """One utterance at 16 kHz, trimmed to its active part (float64, peak-relative -40 dB)."""
    rate, x = parse_wav(_run(list(argv), f"{argv[2]} {argv[-1]!r}"), f"espeak-ng {argv[2]}")
    y = resample(x, rate, SAMPLE_RATE)
    a, b = active_region(y, SAMPLE_RATE)
    return y[a:b]


def _utterance(rng: np.random.Generator, cfg: KeywordsConfig, voices: list[str], text: str) -> dict[str, Any]:
    return {
        "voice": str(rng.choice(voices)),
        "accent": str(rng.choice(ACCENTS)),
        "speed": int(rng.integers(cfg.speed[0], cfg.speed[1] + 1)),
        "pitch": int(rng.integers(cfg.pitch[0], cfg.pitch[1] + 1)),
        "amplitude": int(rng.integers(cfg.amplitude[0], cfg.amplitude[1] + 1)),
        "text": text,
    }


def plan(cfg: KeywordsConfig, voices: dict[str, list[str]]) -> tuple[list[dict[str, Any]], dict[str, list[dict]]]:
    """Every random choice of the set, before any audio: (one spec per clip, babble sentences per split)."""
    clips: list[dict[str, Any]] = []
    babble: dict[str, list[dict]] = {}
    shift = cfg.shift_ms * SAMPLE_RATE // 1000
    for s, name in enumerate(SPLITS):
        brng = np.random.default_rng([cfg.seed, s, 1000])
        babble[name] = [
            _utterance(brng, cfg, voices[name], BABBLE_TEXTS[int(brng.integers(len(BABBLE_TEXTS)))])
            for _ in range(cfg.babble_pool)
        ]
        for c, label in enumerate(CLASSES):
            rng = np.random.default_rng([cfg.seed, s, c])
            for _ in range(cfg.per_class[s]):
                spec: dict[str, Any] = {"split": name, "label": label, "noise_seed": int(rng.integers(2**63))}
                if label == SILENCE:
                    digital = bool(rng.random() < cfg.digital_silence_prob)
                    kinds = [k for k in cfg.noise_kinds if k in SILENCE_NOISE_KINDS] or ["white"]
                    spec |= {
                        "noise": "none" if digital else str(rng.choice(kinds)),
                        "level_db": round(float(rng.uniform(*cfg.silence_level_db)), 2),
                    }
                else:
                    word = label if label in WORDS else str(rng.choice(UNKNOWN_WORDS))
                    spec |= _utterance(rng, cfg, voices[name], word)
                    noisy = bool(rng.random() < cfg.noise_prob)
                    spec |= {
                        "level_db": round(float(rng.uniform(*cfg.level_db)), 2),
                        "shift": int(rng.integers(-shift, shift + 1)),
                        "noise": str(rng.choice(cfg.noise_kinds)) if noisy else "none",
                        "snr_db": float(rng.choice(cfg.snr_db)) if noisy else None,
                    }
                clips.append(spec)
    return clips, babble


def _key(u: dict[str, Any]) -> tuple:
    return (u["voice"], u["accent"], u["speed"], u["pitch"], u["amplitude"], u["text"])


def _jobs(jobs: int | None) -> int:
    return max(1, jobs or len(os.sched_getaffinity(0)))


def synthesize(utterances: list[dict[str, Any]], jobs: int | None = None, exe: str | None = None) -> list[np.ndarray]:
    """Each utterance spoken (``jobs`` espeak-ng processes at a time), at 16 kHz, in order."""
    exe = exe or espeak_path()
    with ThreadPoolExecutor(max_workers=_jobs(jobs)) as pool:  # each thread waits on its own subprocess
        return list(pool.map(lambda u: _speak(_argv(exe, *_key(u))), utterances))


def render(spec: dict[str, Any], speech: np.ndarray | None, babble_pool: list[np.ndarray]) -> tuple[np.ndarray, dict]:
    """One clip (int16, CLIP_SAMPLES) from its spec and its utterance; also what was done (onset,
    length, scale) for the record."""
    n = CLIP_SAMPLES
    rng = np.random.default_rng(spec["noise_seed"])
    done: dict[str, Any] = {}
    if spec["label"] == SILENCE:
        x = np.zeros(n)
        if spec["noise"] != "none":
            x = noise(spec["noise"], rng, n, SAMPLE_RATE) * 10 ** (spec["level_db"] / 20)
    else:
        if speech is None or len(speech) == 0 or rms(speech) == 0:
            raise PicomlError(
                f"espeak-ng said nothing for {spec['text']!r} with voice {spec['accent']}+{spec['voice']}"
            )
        s = speech[:n] if len(speech) <= n else speech[(len(speech) - n) // 2 :][:n]
        s = s * (10 ** (spec["level_db"] / 20) / rms(s))
        onset = int(np.clip((n - len(s)) // 2 + spec["shift"], 0, n - len(s)))
        x = np.zeros(n)
        x[onset : onset + len(s)] = s
        done |= {"onset": onset, "length": len(s)}
        if spec["noise"] != "none":
            x += noise(spec["noise"], rng, n, SAMPLE_RATE, babble_pool) * rms(s) * 10 ** (-spec["snr_db"] / 20)
    peak = float(np.abs(x).max())
    scale = min(1.0, 0.98 / peak) if peak > 0 else 1.0
    done["scale"] = round(scale, 6)
    return np.clip(np.round(x * scale * 32768.0), -32768, 32767).astype(np.int16), done


def config_digest(cfg: KeywordsConfig, version: str, variants: tuple[str, ...]) -> str:
    blob = json.dumps(
        {"data_version": DATA_VERSION, "config": asdict(cfg), "espeak": version, "variants": variants}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def generate(cfg: KeywordsConfig, jobs: int | None = None) -> KeywordsData:
    """The whole set, synthesized now (no cache): see the module docstring."""
    t0 = time.perf_counter()
    cfg = cfg.checked()
    exe = espeak_path()
    version, variants = _espeak_info(exe)
    voices = split_voices(variants, cfg)
    clips, babble_specs = plan(cfg, voices)
    pools = {name: synthesize(babble_specs[name], jobs, exe) for name in SPLITS}
    x = np.zeros((len(clips), CLIP_SAMPLES), np.int16)

    def make(i: int) -> dict[str, Any]:  # speak and mix in one go: only the int16 clips are kept
        spec = clips[i]
        speech = _speak(_argv(exe, *_key(spec))) if "text" in spec else None
        x[i], done = render(spec, speech, pools[spec["split"]])
        return done

    with ThreadPoolExecutor(max_workers=_jobs(jobs)) as pool:  # each clip its own rows, its own generator
        for spec, done in zip(clips, pool.map(make, range(len(clips))), strict=True):
            spec |= done
    return KeywordsData(
        x=x,
        y=np.array([CLASSES.index(c["label"]) for c in clips], np.int64),
        split=np.array([SPLITS.index(c["split"]) for c in clips], np.int8),
        meta=clips,
        voices={k: sorted({family(v) for v in vs}) for k, vs in voices.items()},
        config=cfg,
        digest=config_digest(cfg, version, variants),
        espeak_version=version,
        seconds=time.perf_counter() - t0,
    )


def cache_file(cache_dir: str | Path, digest: str) -> Path:
    return Path(cache_dir) / f"keywords-{digest[:20]}.npz"


def save(data: KeywordsData, path: str | Path) -> None:
    info = {
        "digest": data.digest,
        "espeak": data.espeak_version,
        "config": asdict(data.config),
        "voices": data.voices,
        "meta": data.meta,
        "seconds": data.seconds,
    }
    buf = io.BytesIO()
    np.savez(buf, x=data.x, y=data.y, split=data.split, info=np.array(json.dumps(info)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_file(path, buf.getvalue())


def _read(path: Path, cfg: KeywordsConfig, digest: str) -> KeywordsData | None:
    """The cached set at ``path`` if it is there, readable and for this digest; else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            info = json.loads(str(z["info"]))
            if info.get("digest") != digest:
                return None
            x, y, split = z["x"], z["y"], z["split"]
    except (OSError, ValueError, KeyError):
        return None
    if x.dtype != np.int16 or x.shape != (len(info["meta"]), CLIP_SAMPLES):
        return None
    return KeywordsData(
        x, y, split, info["meta"], info["voices"], cfg, digest, info["espeak"], info["seconds"], True, path
    )


def load(
    cfg: KeywordsConfig | None = None, cache_dir: str | Path = "build/cache/keywords", jobs: int | None = None
) -> KeywordsData:
    """The set for ``cfg`` (default: KeywordsConfig()), from the cache when it is there, else
    generated and cached. EspeakMissingError when espeak-ng is not installed (cached or not: the
    cache key includes its version)."""
    cfg = (cfg or KeywordsConfig()).checked()
    version, variants = _espeak_info(espeak_path())
    digest = config_digest(cfg, version, variants)
    path = cache_file(cache_dir, digest)
    if path.is_file() and (hit := _read(path, cfg, digest)) is not None:
        return hit
    data = generate(cfg, jobs)
    save(data, path)
    return replace(data, path=path)


__all__ = [
    "CLASSES",
    "KeywordsConfig",
    "KeywordsData",
    "EspeakMissingError",
    "SILENCE",
    "UNKNOWN",
    "WORDS",
    "espeak_path",
    "generate",
    "load",
]
