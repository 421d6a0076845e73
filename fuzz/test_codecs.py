"""pytest entry for codec fuzzing: every wire decoder raises only typed errors and is canonical."""

import pytest

from fuzz.codecs import CODECS, Codec, check_decoder, fuzz_codec


@pytest.mark.parametrize("codec", CODECS, ids=[codec.name for codec in CODECS])
def test_decoder_raises_only_typed_errors(codec: Codec) -> None:
    fuzz_codec(codec, examples=300)


@pytest.mark.parametrize("codec", CODECS, ids=[codec.name for codec in CODECS])
def test_real_messages_round_trip(codec: Codec) -> None:
    examples = codec.examples()
    assert examples
    for message in examples:
        value = codec.decode(message)
        assert codec.encode(value) == message
        check_decoder(codec, message)
