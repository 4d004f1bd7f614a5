"""An edge node made with pysparkplug, an independent Sparkplug B implementation, for the interoperability test.

Run as `python spb_edge_node.py HOST PORT GROUP NODE`: it births device `press-1` (a Double `temp`, a Boolean
command trigger `Commands/stop` and the string metrics of an answer), sends a DDATA every 50 ms, answers a DCMD
`Commands/stop` with a DDATA carrying `Commands/id`, `Commands/status` and `Commands/detail`, prints `ready`, and
runs until it is killed (the broker then publishes its NDEATH will)."""

from __future__ import annotations

import sys
import time

import pysparkplug as spb


def main(host: str, port: int, group: str, node_id: str) -> None:
    strings = ("Commands/id", "Commands/status", "Commands/detail")
    metrics = [
        spb.Metric(timestamp=spb.get_current_timestamp(), name="temp", datatype=spb.DataType.DOUBLE, value=20.0),
        spb.Metric(timestamp=spb.get_current_timestamp(), name="Commands/stop", datatype=spb.DataType.BOOLEAN,
                   value=False),
        *(spb.Metric(timestamp=spb.get_current_timestamp(), name=n, datatype=spb.DataType.STRING, value="")
          for n in strings),
    ]  # fmt: skip
    answers: list[str] = []

    def on_dcmd(_: spb.EdgeNode, message: spb.Message) -> None:
        by_name = {m.name: m.value for m in message.payload.metrics}
        if by_name.get("Commands/stop") is True:
            answers.append(str(by_name.get("Commands/id", "")))

    node = spb.EdgeNode(group, node_id, [])
    node.register(spb.Device("press-1", metrics, cmd_callback=on_dcmd))
    node.connect(host, port=port, blocking=False)
    time.sleep(0.5)
    print("ready", flush=True)
    temp = 20.0
    while True:
        temp += 0.01
        now = spb.get_current_timestamp()
        update = [spb.Metric(timestamp=now, name="temp", datatype=spb.DataType.DOUBLE, value=temp)]
        while answers:
            done = (answers.pop(0), "done", "stopped by pysparkplug")
            update += [spb.Metric(timestamp=now, name=n, datatype=spb.DataType.STRING, value=v)
                       for n, v in zip(strings, done, strict=True)]  # fmt: skip
        node.update_device("press-1", update)
        time.sleep(0.05)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
