"""The pure core: the watch list, due times, reading a page, deciding, diffs, events and
the text of alerts. Nothing here touches the network, the disk, the clock or AWS (see
README.md in this folder); everything else builds on it."""
