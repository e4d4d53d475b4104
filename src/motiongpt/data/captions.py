"""Captions for the corpus sources: templated ones for Bandai Namco, sentence-wrapped real text for CMU.

Bandai Namco clips carry only a content label (``walk``, ``wave-left-hand``, ...) and a style label
(``tired``, ``elderly``, ...). ``bandai_captions`` turns them into varied sentences from a closed
vocabulary: several verb phrases per content, several adverbials and styled subjects per style, and a few
sentence patterns, drawn by a seeded RNG. They are templated text, and the corpus manifest says so.

CMU clips have a real free-text description (``CMU data.csv``), e.g. ``"playground - forward jumps,
turn around"``. ``cmu_sentence`` keeps its words and only wraps them into a sentence: a subject or a
category clause, third-person verbs, and ``then`` before the last activity:
``"a person is on a playground: forward jumps, then turns around"``.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

# --- Bandai Namco: content -> verb phrases (third person, present) --------------------------------------

_WALK = ("walks forward", "walks straight ahead", "walks ahead", "takes a few steps forward")
_RUN = ("runs forward", "runs straight ahead", "runs ahead", "jogs forward")

CONTENT_PHRASES: dict[str, tuple[str, ...]] = {
    "walk": _WALK,
    "run": _RUN,
    "dash": ("sprints forward", "dashes ahead", "runs forward at full speed", "dashes forward"),
    "walk-back": ("walks backward", "walks backwards", "takes a few steps backward", "walks back"),
    "walk-left": ("walks to the left", "walks toward the left", "walks leftward", "moves to the left"),
    "walk-right": ("walks to the right", "walks toward the right", "walks rightward", "moves to the right"),
    "bow": ("bows", "makes a bow", "bends forward in a bow", "bows forward"),
    "bye": ("waves goodbye", "waves a hand to say goodbye", "says goodbye with a wave", "waves bye"),
    "byebye": ("waves bye bye", "waves goodbye", "waves a hand to say bye bye", "says bye bye with a wave"),
    "guide": (
        "gestures to show someone the way",
        "guides someone with a hand gesture",
        "points the way with an arm",
        "shows the way with a hand",
    ),
    "respond": ("responds with a gesture", "responds to someone", "reacts with a gesture"),
    "call": ("calls out to someone", "calls someone over", "calls to someone with a gesture"),
    "punch": ("throws a punch", "punches", "punches forward", "strikes with a fist"),
    "kick": ("kicks", "kicks forward", "does a kick", "kicks with a leg"),
    "slash": ("makes a slashing motion", "slashes", "slashes with the arm", "swings the arm in a slash"),
    "dance-long": ("dances", "performs a long dance", "dances for a while", "does a long dance"),
    "dance-short": ("dances briefly", "performs a short dance", "does a short dance", "dances a little"),
    "walk-turn-left": (
        "walks and turns left",
        "walks forward and turns to the left",
        "turns left while walking",
        "walks, then turns left",
    ),
    "walk-turn-right": (
        "walks and turns right",
        "walks forward and turns to the right",
        "turns right while walking",
        "walks, then turns right",
    ),
    "wave-both-hands": (
        "waves both hands",
        "waves with both hands",
        "waves both arms",
        "waves using both hands",
    ),
    "wave-left-hand": ("waves the left hand", "waves with the left hand", "waves the left arm"),
    "wave-right-hand": ("waves the right hand", "waves with the right hand", "waves the right arm"),
    "raise-up-both-hands": (
        "raises both hands",
        "raises both hands up",
        "lifts both arms up",
        "puts both hands up",
    ),
    "raise-up-left-hand": ("raises the left hand", "lifts the left hand up", "puts the left hand up"),
    "raise-up-right-hand": ("raises the right hand", "lifts the right hand up", "puts the right hand up"),
}

# --- Bandai Namco: style -> adverbials (after the verb phrase; ", x" = trailing clause) and subjects -----

_OLD = (
    (
        "like an old person",
        "slowly, like an elderly person",
        "in an elderly way",
        ", moving like an old person",
    ),
    ("an old person", "an elderly person"),
)
_TIRED = (
    ("wearily", "in a tired way", ", looking tired", "as if tired"),
    ("a tired person", "a weary person"),
)
_MASC = (("in a masculine way", "with a masculine manner", "in a manly style"), ())
STYLE_PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "normal": (("", "", "normally", "in a normal way", "in a neutral manner"), ()),
    "happy": (
        ("happily", "cheerfully", "in a happy way", ", looking happy"),
        ("a happy person", "a cheerful person"),
    ),
    "sad": (
        ("sadly", "in a sad way", ", looking sad", ", looking downcast"),
        ("a sad person", "an unhappy person"),
    ),
    "angry": (("angrily", "in an angry way", ", looking angry", ", full of anger"), ("an angry person",)),
    "proud": (("proudly", "with pride", "in a proud way", ", looking proud"), ("a proud person",)),
    "not-confident": (
        ("timidly", "hesitantly", "without confidence", "in an unsure way"),
        ("a timid person", "an insecure person"),
    ),
    "masculinity": _MASC,
    "masculine": _MASC,
    "feminine": (("in a feminine way", "with a feminine manner", "gracefully, in a feminine style"), ()),
    "childish": (("like a child", "in a childish way", "playfully, like a child"), ("a childlike person",)),
    "old": _OLD,
    "elderly": _OLD,
    "tired": _TIRED,
    "exhausted": (
        ("in an exhausted way", ", looking exhausted", "wearily, as if exhausted"),
        ("an exhausted person", "a worn out person"),
    ),
    "active": (
        ("energetically", "in an active way", ", full of energy", "with lots of energy"),
        ("an energetic person", "a lively person"),
    ),
    "musical": (
        ("theatrically, like in a musical", "in a musical style", "like a performer in a musical"),
        (),
    ),
    "giant": (("like a giant", "heavily, like a giant", "in a lumbering way, like a giant"), ()),
    "chimpira": (
        ("like a thug", "in a swaggering, thuggish way", "like a street punk"),
        ("a thuggish person",),
    ),
    "youthful": (
        ("in a youthful way", "youthfully", ", full of youthful energy"),
        ("a young person", "a youthful person"),
    ),
}

SUBJECTS = ("a person", "someone", "the person", "a human", "a figure")


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def _join_adverbial(adv: str) -> str:
    if not adv:
        return ""
    return adv if adv.startswith(",") else " " + adv


def bandai_captions(content: str, style: str, key: str, seed: int = 0, n: int = 3) -> list[str]:
    """``n`` distinct templated captions for a Bandai Namco clip.

    Args:
        content: content label, e.g. ``"wave-left-hand"``.
        style: style label, e.g. ``"elderly"``.
        key: the clip's unique name; with ``seed`` it seeds the RNG, so a clip's captions do not depend
            on which other clips are in the build.
        seed: build seed.
        n: captions wanted (fewer come back if the vocabulary cannot make ``n`` distinct ones).

    Raises:
        KeyError: an unknown content or style label.
    """
    if content not in CONTENT_PHRASES:
        raise KeyError(f"no caption template for Bandai Namco content {content!r}")
    if style not in STYLE_PHRASES:
        raise KeyError(f"no caption template for Bandai Namco style {style!r}")
    rng = _rng(seed, key)
    verbs = CONTENT_PHRASES[content]
    advs, styled = STYLE_PHRASES[style]
    out: list[str] = []
    for _ in range(20 * n):
        if len(out) == n:
            break
        v = verbs[rng.integers(len(verbs))]
        if styled and rng.random() < 0.35:
            text = styled[rng.integers(len(styled))] + " " + v
        else:
            s = SUBJECTS[rng.integers(len(SUBJECTS))]
            a = advs[rng.integers(len(advs))]
            if a and " " not in a and rng.random() < 0.3:  # "wearily, someone walks forward"
                text = f"{a}, {s} {v}"
            else:
                text = f"{s} {v}{_join_adverbial(a)}"
        if text not in out:
            out.append(text)
    return out


# --- Bandai Namco: wider wording for training-time caption variety ------------------------------------
#
# What a person types is rarely a template phrase: other verbs ("jog", "stroll"), other subjects ("a man"),
# other sentence shapes ("walking forward", "walk forward", "a man is walking forward"). The phrases below
# are in the base form; ``varied_caption`` conjugates them. They are used only to vary training prompts
# (``TaskBuilder.caption_variety``); corpus captions and the evaluation's references keep the templates.

CONTENT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "walk": ("walk", "stroll forward", "walk at a normal pace", "go forward on foot", "step forward",
             "walk in a straight line", "pace forward", "walk on"),
    "run": ("run", "jog", "jog ahead", "run at an even pace", "run on", "go for a jog",
            "run in a straight line", "trot forward"),
    "dash": ("sprint", "sprint ahead", "run very fast", "race forward", "dash", "run as fast as possible",
             "bolt forward", "run at top speed"),
    "walk-back": ("walk backward", "move backward", "back up", "walk in reverse",
                  "step back a few times", "retreat backward"),
    "walk-left": ("step to the left", "sidestep to the left", "step sideways to the left",
                  "move sideways to the left", "side-step left", "shuffle to the left", "walk sideways left"),
    "walk-right": ("step to the right", "sidestep to the right", "step sideways to the right",
                   "move sideways to the right", "side-step right", "shuffle to the right",
                   "walk sideways right"),
    "bow": ("bow", "take a bow", "bow down", "bow politely", "give a bow",
            "bow deeply", "lean forward in a bow"),
    "bye": ("wave goodbye", "say goodbye", "wave farewell", "wave bye", "wave someone off",
            "say farewell with a wave"),
    "byebye": ("wave goodbye", "say bye bye", "wave farewell", "wave bye", "say goodbye with a hand"),
    "guide": ("show the way", "point the way", "direct someone", "point in a direction",
              "gesture toward a direction", "lead someone with a gesture", "guide a visitor"),
    "respond": ("respond", "reply with a gesture", "acknowledge someone",
                "react to someone", "nod and gesture in reply"),
    "call": ("call someone", "call someone over", "wave someone over", "beckon", "call out",
             "signal someone to come", "gesture for someone to come"),
    "punch": ("punch", "throw a punch", "punch the air", "jab", "hit with a fist", "box",
              "throw a straight punch"),
    "kick": ("kick", "kick the air", "do a kick", "kick out a leg", "throw a kick", "kick something",
             "do a high kick"),
    "slash": ("slash", "swing an arm", "swing a blade", "slash the air", "chop with the arm",
              "cut with a sword", "strike sideways with the arm"),
    "dance-long": ("dance", "dance around", "do a dance", "dance to music", "bust a move", "perform a dance"),
    "dance-short": ("dance", "dance a bit", "do a quick dance", "dance to music", "do a dance move"),
    "walk-turn-left": ("walk and turn left", "turn left", "walk then turn to the left",
                       "walk forward and make a left turn", "walk and veer left", "go forward and turn left"),
    "walk-turn-right": ("walk and turn right", "turn right", "walk then turn to the right",
                        "walk forward and make a right turn", "walk and veer right",
                        "go forward and turn right"),
    "wave-both-hands": ("wave both hands", "wave with both arms", "wave both arms over the head",
                        "wave two hands", "wave hello with both hands", "wave both hands in the air"),
    "wave-left-hand": ("wave the left hand", "wave with the left hand", "wave hello with the left hand",
                       "wave the left arm", "give a wave with the left hand"),
    "wave-right-hand": ("wave the right hand", "wave with the right hand", "wave hello with the right hand",
                        "wave the right arm", "give a wave with the right hand"),
    "raise-up-both-hands": ("raise both hands", "raise both arms", "put both hands in the air",
                            "lift both arms", "hold both hands up", "throw both arms up"),
    "raise-up-left-hand": ("raise the left hand", "raise the left arm", "put the left hand in the air",
                           "lift the left arm", "hold the left hand up"),
    "raise-up-right-hand": ("raise the right hand", "raise the right arm", "put the right hand in the air",
                            "lift the right arm", "hold the right hand up"),
}  # fmt: skip

EXTRA_SUBJECTS = ("a man", "a woman", "a guy", "somebody", "the character", "an actor", "a performer")

# Verbs whose final consonant doubles before -ing ("run" -> "running").
_DOUBLING = frozenset(
    "run jog step sidestep hop skip swim jab hit cut bob trot chop put get sit set nod".split()
)


def gerund(verb: str) -> str:
    """``"walk" -> "walking"``, ``"wave" -> "waving"``, ``"run" -> "running"``; hyphens kept."""
    head, dash, tail = verb.rpartition("-")
    if dash:
        return head + dash + gerund(tail)
    if verb in _DOUBLING:
        return verb + verb[-1] + "ing"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def verb_forms(phrase: str) -> tuple[str, str, str]:
    """A base-form verb phrase in the three forms captions use: ``"jog ahead"`` -> ``("jog ahead",
    "jogs ahead", "jogging ahead")``."""
    verb, _, rest = phrase.partition(" ")
    rest = f" {rest}" if rest else ""
    return phrase, third_person(verb) + rest, gerund(verb) + rest


def varied_caption(content: str, style: str | None, rng: np.random.Generator) -> str:
    """A caption for a Bandai Namco clip in wider wording than ``bandai_captions``' templates.

    The action comes from ``CONTENT_SYNONYMS`` (or a template phrase), the subject from ``SUBJECTS`` +
    ``EXTRA_SUBJECTS``, the shape from: ``"a man jogs ahead"``, ``"a man is jogging ahead"``,
    ``"jogging ahead"``, ``"jog ahead"``; the style's adverbial is kept in two cases of three.

    Raises:
        KeyError: an unknown content label.
    """
    if content not in CONTENT_SYNONYMS:
        raise KeyError(f"no caption vocabulary for Bandai Namco content {content!r}")
    advs = STYLE_PHRASES.get(style or "normal", ((),))[0]
    adv = advs[rng.integers(len(advs))] if advs and rng.random() < 2 / 3 else ""
    subjects = SUBJECTS + EXTRA_SUBJECTS
    subject = subjects[rng.integers(len(subjects))]
    if rng.random() < 0.25:  # a template phrase under a new subject
        phrases = CONTENT_PHRASES[content]
        return f"{subject} {phrases[rng.integers(len(phrases))]}{_join_adverbial(adv)}"
    synonyms = CONTENT_SYNONYMS[content]
    base, third, ing = verb_forms(synonyms[rng.integers(len(synonyms))])
    text = (f"{subject} {third}", f"{subject} is {ing}", ing, base)[rng.integers(4)]
    return text + _join_adverbial(adv)


# --- CMU: real descriptions wrapped into sentences ------------------------------------------------------

CATEGORY_CLAUSES: dict[str, str] = {
    "playground": "a person is on a playground",
    "dance": "a person dances",
    "basketball": "a person plays basketball",
    "soccer": "a person plays soccer",
    "football": "a person plays football",
    "nursery rhyme": "a person acts out a nursery rhyme",
    "navigate": "a person navigates",
    "conversation": "a person in a conversation",
    "vignettes": "a person acts out a vignette",
    "quarrel": "a person quarrels",
    "violence": "a person acts out violence",
}

# Base-form verbs that start activities in CMU descriptions; only these are put in the third person.
BASE_VERBS = frozenset(
    """walk run jog jump turn climb hang swing go sit dangle descend rock lower hold drop lean pull push
    punch strike bend scoop rise lift wash dance dribble shoot balance kick throw catch step stand squat
    stretch crawl roll reach pick put carry wave raise bow spin hop skip march sneak stumble fall get look
    point clap shake swim play sweep open close drink eat lie kneel crouch twist slide sway tiptoe limp
    stagger dodge duck block swat flap mop paint scratch wipe pass chase leap bounce pivot shuffle stomp
    lunge glide cross fold rotate arch tap salute hug pat slap grab toss bat swipe sidestep skate tumble
    cartwheel flip scramble link rush comfort shelter stare""".split()
)  # fmt: skip

_IRREGULAR = {"go": "goes", "do": "does", "have": "has", "be": "is"}


def third_person(verb: str) -> str:
    """``"turn" -> "turns"``, ``"punch" -> "punches"``, ``"carry" -> "carries"``, ``"go" -> "goes"``."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(verb) > 1 and verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _conjugate(activity: str) -> tuple[str, bool]:
    """Put a leading base-form verb into the third person (``verb/verb`` -> ``verbs or verbs``).

    Returns the phrase and whether it started with a known verb.
    """
    first, _, rest = activity.partition(" ")
    options = first.split("/")
    if all(o in BASE_VERBS for o in options):
        verb = " or ".join(third_person(o) for o in options)
        return (f"{verb} {rest}" if rest else verb), True
    return activity, False


def split_description(description: str) -> tuple[str | None, list[str]]:
    """``"playground - climb, hang"`` -> ``("playground", ["climb", "hang"])``; no category -> None."""
    text = " ".join(description.replace("#", " ").split()).lower()
    category, sep, rest = text.partition(" - ")
    if not sep:
        category, rest = None, text
    activities = [a.strip() for a in re.split(r"[,;]", rest) if a.strip()]
    return category, activities


def cmu_group(description: str) -> str:
    """The content stratum of a CMU clip: its category, else the first word of its first activity."""
    category, activities = split_description(description)
    if category:
        return category
    first = activities[0] if activities else "other"
    return first.split(" ")[0].split("/")[0]


def cmu_sentence(description: str, activities: list[str] | None = None) -> str:
    """Wrap a CMU description (or a subset of its activities, in order) into a sentence.

    >>> cmu_sentence("playground - forward jumps, turn around")
    'a person is on a playground: forward jumps, then turns around'
    >>> cmu_sentence("walk on uneven terrain")
    'a person walks on uneven terrain'
    """
    category, all_activities = split_description(description)
    acts = all_activities if activities is None else activities
    if not acts:
        acts = [category or "moves"]
        category = None
    conj = [_conjugate(a) for a in acts]
    phrases = [c for c, _ in conj]
    body = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + ", then " + phrases[-1]
    if category:
        clause = CATEGORY_CLAUSES.get(category, f"a person ({category})")
        return f"{clause}: {body}"
    return f"a person {body}" if conj[0][1] else f"a person performs {body}"


def cmu_window_captions(description: str, n_windows: int) -> tuple[list[str], bool]:
    """One caption per window, and whether the activities were split across the windows.

    Activities are split in order only when there are exactly as many activities as windows (and more
    than one); otherwise every window gets the whole description.
    """
    _, activities = split_description(description)
    if n_windows > 1 and len(activities) == n_windows:
        return [cmu_sentence(description, [a]) for a in activities], True
    return [cmu_sentence(description)] * n_windows, False


# --- left/right mirroring -----------------------------------------------------------------------------

_SIDE_RE = re.compile(r"\b(left|right)(ward|wards)?\b", re.IGNORECASE)


def _swap_side(m: re.Match[str]) -> str:
    word = {"left": "right", "right": "left"}[m.group(1).lower()]
    word = word.capitalize() if m.group(1)[0].isupper() else word
    return word + (m.group(2) or "")


def mirror_caption(text: str) -> str:
    """The caption of the mirrored motion: "left" and "right" (also "-ward(s)") swapped."""
    return _SIDE_RE.sub(_swap_side, text)


def mirror_label(label: str | None) -> str | None:
    """A Bandai Namco content label of the mirrored motion (``wave-left-hand`` -> ``wave-right-hand``)."""
    if label is None:
        return None
    return "-".join({"left": "right", "right": "left"}.get(part, part) for part in label.split("-"))
