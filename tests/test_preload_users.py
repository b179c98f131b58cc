"""User models: the challenge's retention draw and Dashlet's swipe distributions (read from a checked archive)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from ptcodec.errors import InputError
from ptcodec.preload.users import DashletUsers, RetentionUsers, load_dashlet
from ptcodec.preload.videos import Video, load_catalogue
from tests.conftest import SHARED_DATA


def video(n: int, shares: list[float]) -> Video:
    return Video("v", ((1000,) * n,) * 3, tuple(float(i) for i in range(n + 2)), (1.0, *shares, 0.0))


def test_retention_draw_follows_the_curve() -> None:
    users = RetentionUsers()
    # Nobody still watching at 1 s: every user leaves within the first second (a whole ms below 1000).
    early = [users.watch_ms(i, video(1, [0.0])) for i in range(7)]
    assert all(0 <= w < 1000 and w == int(w) for w in early)
    # Everybody still watching at the end: watched to the end, exactly the length.
    assert [users.watch_ms(i, video(2, [1.0, 1.0])) for i in range(7)] == [2000.0] * 7
    with pytest.raises(InputError, match="no seed for video 7"):
        users.watch_ms(7, video(1, [0.5]))


def add(archive: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(data), link
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def archive(tmp_path: Path, extra: tuple = ()) -> Path:
    path = tmp_path / "probability.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add(tar, "probability/11.txt", b"0.25\n0.75\n")
        add(tar, "probability/turk/12.txt", b"1.0\n0.0\n")
        add(tar, "probability/13.txt", kind=tarfile.SYMTYPE, link="/etc/passwd")
        add(tar, "probability/../14.txt", b"0.5\n0.5\n")
        add(tar, "/probability/15.txt", b"0.5\n0.5\n")
        for member in extra:
            add(tar, *member)
    return path


def test_dashlet_reads_only_checked_members(tmp_path: Path) -> None:
    path = archive(tmp_path)
    assert load_dashlet(path) == {"probability/11.txt": (0.25, 0.75)}
    assert load_dashlet(path, subset="turk") == {"probability/turk/12.txt": (1.0, 0.0)}
    assert not (tmp_path / "probability").exists() and not (tmp_path.parent / "14.txt").exists()


@pytest.mark.parametrize(
    ("member", "words"),
    [
        (("probability/16.txt", b"0.5\n" * 20_000), "too large"),
        (("probability/17.txt", b"0.5\nhalf\n"), "one probability per line"),
        (("probability/18.txt", b"0.5\n0.2\n"), "summing to 1"),
    ],
)
def test_dashlet_refuses_a_bad_member_in_one_line(tmp_path: Path, member: tuple, words: str) -> None:
    with pytest.raises(InputError) as caught:
        load_dashlet(archive(tmp_path, [member]))
    assert words in str(caught.value) and member[0] in str(caught.value) and "\n" not in str(caught.value)


def test_dashlet_users_take_the_distribution_with_one_bin_per_second_plus_the_end() -> None:
    users = DashletUsers({"a": (0.0, 1.0, 0.0), "b": (0.0, 0.0, 0.0, 1.0), "c": (0.0, 0.0, 1.0)})
    # Two chunks: the 3-bin distributions; "a" swipes in the second second, "c" watches to the end.
    two = video(2, [0.5, 0.5])
    picks = {users.distribution_for(i, two) for i in range(7)}
    assert picks <= {(0.0, 1.0, 0.0), (0.0, 0.0, 1.0)}
    for i in range(7):
        watch = users.watch_ms(i, two)
        assert watch == 2000.0 if users.distribution_for(i, two)[-1] == 1.0 else 1000 <= watch < 2000
    # Four chunks: no 5-bin distribution, the nearest (4 bins, "b") stretched: all watch to the end.
    assert users.watch_ms(0, video(4, [0.5] * 4)) == 4000.0


def test_dashlet_users_on_the_shared_archive() -> None:
    path = SHARED_DATA / "short_video" / "dashlet_swipe" / "probability.tar.gz"
    if not path.is_file():
        pytest.skip(f"Dashlet's swipe archive is not at {path}")
    users = DashletUsers.from_archive(path)
    videos = load_catalogue(SHARED_DATA / "short_video")
    for i, v in enumerate(videos):
        assert 0 <= users.watch_ms(i, v) <= v.length_ms
    assert len(users.distribution_for(0, videos[0])) == videos[0].n_chunks + 1
