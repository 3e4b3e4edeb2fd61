"""The status line's state words, cut to fit: never mid-word."""

from obview.tui.panels import _cut_words


def test_a_state_cut_to_fit_ends_on_a_whole_word():
    """At 80 columns a replay's state read "connecting: replay of a si…": the words
    that fit are kept whole, and "…" says where the others went."""
    text = "connecting: replay of a simulator session"
    for room in range(19, len(text)):  # (from where "connecting: replay…" fits)
        cut = _cut_words(text, room, keep_tail=False)
        assert cut.endswith("…") and len(cut) <= room, (room, cut)
        words = cut[:-1].split()
        assert words and all(word in text.split() for word in words), (room, cut)
