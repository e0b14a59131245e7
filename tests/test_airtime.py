import pytest

from kit.mesh.airtime import airtime_ms, frame_bytes, payload_airtime_ms


# Reference figures: Semtech AN1200.13 time-on-air formula, checked against the firmware's
# 165 ms LONG_FAST preamble constant).
@pytest.mark.parametrize(
    "on_air, preset, expected_ms",
    [
        (29, "LONG_FAST", 477),
        (72, "LONG_FAST", 805),
        (223, "LONG_FAST", 1911),
        (255, "LONG_FAST", 2157),
        (29, "MEDIUM_FAST", 130),
        (72, "MEDIUM_FAST", 232),
        (223, "MEDIUM_FAST", 570),
        (255, "MEDIUM_FAST", 642),
    ],
)
def test_airtime_matches_reference_table(on_air, preset, expected_ms):
    assert airtime_ms(on_air, preset) == pytest.approx(expected_ms, abs=1.5)


def test_private_app_frame_size():
    # 16-byte header + portnum 256 (3 B) + payload tag and length + 2-byte bitfield.
    # The reference's "72 B for 50 B" is a TEXT_MESSAGE_APP figure (1-byte portnum).
    assert frame_bytes(50) == 16 + 3 + 2 + 2 + 50
    assert frame_bytes(200) == 16 + 3 + 3 + 2 + 200  # 2-byte length varint from 128 B on


def test_airtime_grows_with_payload():
    times = [payload_airtime_ms(n) for n in range(0, 201, 10)]
    assert times == sorted(times)
    assert times[-1] > 2 * times[0]
