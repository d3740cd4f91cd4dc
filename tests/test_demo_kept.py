"""The demo keeps what it made for a request: asked again, it answers at once with the
same bytes a fresh render gives, and a request differing in any setting that changes the
picture gets its own answer. In-process, on small pictures: about 0.5 s of CPU."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from test_demo import CHELSEA

from imgconv.demo.app import Demo, RequestError
from imgconv.demo.renders import Answer, Kept


def upload(demo, rng, shape=(20, 30, 3)):
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return json.loads(demo.upload(len(data), lambda _: data).make())["id"]


BLUR = {"radius": "2", "deviation": "1", "view": "result", "boundary": "reflect"}
RESTORE = {"radius": "2", "deviation": "1", "boundary": "reflect", "method": "richardson-lucy", "iterations": "2",
           "balance": "0.01", "noise": "0"}
CONV = {"input": "5", "kernel": "3", "stride": "1", "padding": "0", "dilation": "1", "step": "0"}
# Each setting that changes the answer, changed.
CHANGES = [("blur", name, value) for name, value in
           (("radius", "3"), ("deviation", "1.5"), ("view", "side-by-side"), ("boundary", "wrap"))] + \
          [("restore", name, value) for name, value in
           (("radius", "3"), ("deviation", "1.5"), ("boundary", "wrap"), ("method", "wiener"), ("iterations", "3"),
            ("noise", "5"))] + \
          [("conv", name, value) for name, value in
           (("input", "6"), ("kernel", "2"), ("stride", "2"), ("padding", "1"), ("dilation", "2"), ("step", "1"))]
ASK = {"blur": (Demo.blur, BLUR), "restore": (Demo.restore, RESTORE), "conv": (Demo.conv_frame, CONV)}


def test_an_answer_asked_again_is_sent_at_once_and_is_a_fresh_renders_bytes(rng):
    demo = Demo(CHELSEA)
    key = upload(demo, rng)
    for kind, (ask, query) in ASK.items():
        query = query | ({"image": key} if kind != "conv" else {})
        first = ask(demo, query)
        made = first.make()
        again = ask(demo, query)
        # Kept: no turn taken (cost None), the same bytes; and those of a demo that keeps nothing yet.
        assert again.cost is None and first.cost is not None, kind
        fresh_demo = Demo(CHELSEA)
        fresh_demo.uploads[key] = demo.uploads[key]
        assert again.make() == made == ask(fresh_demo, query).make(), kind


@pytest.mark.parametrize("kind, name, value", CHANGES)
def test_a_request_differing_in_one_setting_gets_its_own_answer(rng, kind, name, value):
    ask, query = ASK[kind]
    demo = Demo(CHELSEA)
    query = query | ({"image": upload(demo, rng)} if kind != "conv" else {})
    kept = ask(demo, query).make()
    changed = query | {name: value}
    answer = ask(demo, changed)
    assert answer.cost is not None  # made, not found kept
    made = answer.make()
    assert made != kept and ask(demo, changed).make() == made


def test_the_picture_is_part_of_what_decides_an_answer_and_a_forgotten_upload_is_not_answered(rng):
    demo = Demo(CHELSEA)
    first, second = upload(demo, rng), upload(demo, rng)
    answers = {key: Demo.blur(demo, BLUR | ({"image": key} if key else {})).make() for key in (first, second, None)}
    assert len(set(answers.values())) == 3
    for _ in range(4):  # four more uploads: the first two are forgotten
        upload(demo, rng)
    with pytest.raises(RequestError, match="no upload"):
        demo.blur(BLUR | {"image": first})


def test_kept_answers_are_bounded_in_bytes_the_least_recently_asked_for_forgotten_first():
    kept = Kept(capacity=10)
    made = []

    def ask(key, size):
        def make():
            made.append(key)
            return key.encode() * size
        return kept.answer(key, Answer(make, "text/plain", 0)).make()

    ask("a", 4), ask("b", 4), ask("a", 4)  # a is asked for again: b is the older
    ask("c", 4)  # 12 bytes: b goes
    ask("a", 4), ask("c", 4), ask("b", 4)
    assert made == ["a", "b", "c", "b"]
    ask("d", 11), ask("d", 11)  # larger than all: made each time, kept never
    assert made[-2:] == ["d", "d"]
    assert ask("c", 4) == b"cccc" and made[-1] == "d"  # c is still kept
