"""Container ids and names: 64-hex ids, name rules, and generated adjective_surname names.

dockerd accepts a name matching ``/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`` (so at least two characters)
and stores it with a leading "/". A container created without a name gets
``<adjective>_<surname>``; on a clash the generator retries with a random digit appended, as
dockerd's does.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable

from dockyard.errors import InvalidArgument

NAME_PATTERN = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_ADJECTIVES = (
    "admiring", "adoring", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
    "bold", "brave", "busy", "charming", "clever", "compassionate", "competent", "confident",
    "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager",
    "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent",
    "festive", "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted",
    "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry",
    "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind",
    "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty",
    "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic",
    "pensive", "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed",
    "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
    "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat",
    "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful",
    "zealous", "zen",
)  # fmt: skip

# Scientists, engineers and mathematicians.
_SURNAMES = (
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata",
    "babbage", "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara",
    "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown",
    "carson", "cerf", "chandrasekhar", "chaplygin", "chatelet", "chebyshev", "clarke", "cohen",
    "curie", "darwin", "davinci", "dijkstra", "dirac", "driscoll", "dubinsky", "easley",
    "edison", "einstein", "elbakyan", "elion", "engelbart", "euclid", "euler", "faraday",
    "fermat", "fermi", "feynman", "franklin", "gagarin", "galileo", "galois", "gates", "gauss",
    "germain", "goldberg", "goldstine", "goodall", "gould", "hamilton", "hawking", "heisenberg",
    "hermann", "hertz", "hodgkin", "hofstadter", "hopper", "hoover", "hypatia", "jackson",
    "jennings", "jepsen", "johnson", "joliot", "jones", "kalam", "kapitsa", "keller", "kepler",
    "khorana", "kilby", "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport",
    "leakey", "leavitt", "lederberg", "lehmann", "lewin", "lichterman", "liskov", "lovelace",
    "lumiere", "mahavira", "margulis", "matsumoto", "maxwell", "mayer", "mccarthy", "mcclintock",
    "meitner", "mendel", "mendeleev", "merkle", "mirzakhani", "montalcini", "moore", "morse",
    "moser", "napier", "nash", "neumann", "newton", "nightingale", "nobel", "noether",
    "northcutt", "noyce", "panini", "pare", "pascal", "pasteur", "payne", "perlman", "pike",
    "poincare", "poitras", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "robinson",
    "roentgen", "rosalind", "rubin", "saha", "sammet", "sanderson", "satoshi", "shamir",
    "shannon", "shaw", "shirley", "shockley", "sinoussi", "snyder", "solomon", "spence",
    "stonebraker", "sutherland", "swanson", "swartz", "swirles", "tereshkova", "tesla",
    "tharp", "thompson", "torvalds", "turing", "varahamihira", "vaughan", "villani",
    "visvesvaraya", "volhard", "wescoff", "wilbur", "wiles", "williams", "williamson",
    "wilson", "wing", "wozniak", "wright", "wu", "yalow", "yonath", "zhukovsky",
)  # fmt: skip


def new_id() -> str:
    """A random 64-hex container id that is not all digits (short ids must not read as numbers)."""
    while True:
        value = os.urandom(32).hex()
        if not value[:12].isdigit():
            return value


def validate(name: str) -> str:
    """The stored form ("/name") of a user-given name; InvalidArgument when it breaks the rule."""
    if not NAME_PATTERN.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name if name.startswith("/") else "/" + name


def generate(taken: Callable[[str], bool], rng: random.Random | None = None) -> str:
    """A free generated name in stored form ("/adjective_surname"), as dockerd picks them."""
    rng = rng or random.Random()
    for attempt in range(64):
        name = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}"
        if attempt > 0:
            name += str(rng.randint(0, 9))
        if not taken("/" + name):
            return "/" + name
    # 64 clashes in a row: only a store with a huge number of containers gets here.
    return "/" + f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}{new_id()[:6]}"
