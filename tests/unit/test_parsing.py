"""Parsing: header formats (one real line per Loghub sample), masking, Drain templates."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from colog.core.parsing.drain import TemplateParser, TemplateStateError
from colog.core.parsing.formats import (
    BUILTIN_FORMATS,
    LOGHUB_SAMPLES,
    FormatError,
    get_format,
    resolve_format,
)
from colog.core.parsing.header import HeaderSpecError, compile_header
from colog.core.parsing.lines import LineError, LineParser, ParsedLine
from colog.core.parsing.masking import drain_masking_instructions, mask_message
from colog.core.parsing.timestamps import YearRollover

UTC = timezone.utc

# (format, real line from benchmarks/data/loghub/<format>_2k.log, expected time, level,
#  stream field value, message) -- message as in the sample's *_structured.csv Content column.
REAL_LINES = [
    ("HDFS", "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
     "blk_38865049064139660 terminating",
     datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC), "INFO", None,
     "PacketResponder 1 for block blk_38865049064139660 terminating"),
    ("Hadoop", "2015-10-18 18:05:27,570 WARN [LeaseRenewer:msrabi@msra-sa-41:9000] "
     "org.apache.hadoop.ipc.Client: Address change detected. Old: msra-sa-41/10.190.173.170:9000 "
     "New: msra-sa-41:9000",
     datetime(2015, 10, 18, 18, 5, 27, 570000, tzinfo=UTC), "WARN", None,
     "Address change detected. Old: msra-sa-41/10.190.173.170:9000 New: msra-sa-41:9000"),
    ("Spark", "17/06/09 20:10:40 INFO spark.SecurityManager: Changing modify acls to: yarn,curi",
     datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC), "INFO", None,
     "Changing modify acls to: yarn,curi"),
    ("Zookeeper", "2015-07-29 19:04:29,071 - WARN  [SendWorker:188978561024:QuorumCnxManager"
     "$SendWorker@688] - Send worker leaving thread",
     datetime(2015, 7, 29, 19, 4, 29, 71000, tzinfo=UTC), "WARN", None,
     "Send worker leaving thread"),
    ("HPC", "2286759 full partition status 1061219795 -1 running",
     datetime.fromtimestamp(1061219795, UTC), None, "full", "running"),
    ("Thunderbird", "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: "
     "(root) CMD (run-parts /etc/cron.hourly)",
     datetime.fromtimestamp(1131566461, UTC), None, "dn228",
     "(root) CMD (run-parts /etc/cron.hourly)"),
    ("Windows", "2016-09-28 04:30:31, Info                  CSI    00000002@2016/9/27:20:30:31.458 "
     "WcpInitialize (wcp.dll version 0.0.0.6) called",
     datetime(2016, 9, 28, 4, 30, 31, tzinfo=UTC), "INFO", None,
     "00000002@2016/9/27:20:30:31.458 WcpInitialize (wcp.dll version 0.0.0.6) called"),
    ("Linux", "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: authentication failure; logname= "
     "uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
     datetime(2000, 6, 14, 15, 16, 2, tzinfo=UTC), None, "combo",
     "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4"),
    ("Android", "03-17 16:13:38.820  1702  8671 D PowerManagerService: ready=true,policy=3",
     datetime(2000, 3, 17, 16, 13, 38, 820000, tzinfo=UTC), "DEBUG", None,
     "ready=true,policy=3"),
    ("HealthApp", "20171223-22:15:29:633|Step_StandReportReceiver|30002312|onReceive action: "
     "android.intent.action.SCREEN_ON",
     datetime(2017, 12, 23, 22, 15, 29, 633000, tzinfo=UTC), None, None,
     "onReceive action: android.intent.action.SCREEN_ON"),
    ("Apache", "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
     datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC), "ERROR", None,
     "mod_jk child workerEnv in error state 6"),
    ("OpenSSH", "Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid user "
     "webmaster [preauth]",
     datetime(2000, 12, 10, 6, 55, 46, tzinfo=UTC), None, "LabSZ",
     "input_userauth_request: invalid user webmaster [preauth]"),
    ("OpenStack", "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:01.551 25746 INFO "
     "nova.osapi_compute.wsgi.server [req-55db2d8d-cdb7-4b4b-993b-429be84c0c3e "
     "113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 "
     "\"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1\" status: 200",
     datetime(2017, 5, 16, 0, 0, 1, 551000, tzinfo=UTC), "INFO",
     "nova-api.log.1.2017-05-16_13:53:08",
     "10.11.10.1 \"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1\" "
     "status: 200"),
    ("Mac", "Jul  1 09:01:06 calvisitor-10-105-160-95 QQ[10018]: FA||Url||taskID[2019352994] "
     "dealloc",
     datetime(2000, 7, 1, 9, 1, 6, tzinfo=UTC), None, None,
     "FA||Url||taskID[2019352994] dealloc"),
    ("Proxifier", "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy "
     "proxy.cse.cuhk.edu.hk:5070 HTTPS",
     datetime(2000, 10, 30, 16, 49, 6, tzinfo=UTC), None, None,
     "proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS"),
    ("BGL", "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
     "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
     datetime(2005, 6, 3, 15, 42, 50, 675872, tzinfo=UTC), "INFO", "R02-M1-N0-C:J12-U11",
     "instruction cache parity error corrected"),
]


def test_every_loghub_sample_has_a_real_line_test():
    assert set(LOGHUB_SAMPLES) <= {name for name, *_ in REAL_LINES}


@pytest.mark.parametrize("name,line,when,level,stream,message", REAL_LINES,
                         ids=[r[0] for r in REAL_LINES])
def test_header_of_a_real_line(name, line, when, level, stream, message):
    parsed = LineParser(get_format(name)).parse(line.encode(), 7)
    assert isinstance(parsed, ParsedLine), parsed
    assert (parsed.line, parsed.timestamp, parsed.level, parsed.stream, parsed.message) == \
        (7, when, level, stream, message)
    assert parsed.timestamp.tzinfo is not None


def test_year_option_and_rollover_keep_year_less_logs_in_order():
    parser = LineParser(get_format("Linux"), year=2005)
    dec = parser.parse("Dec 31 23:59:59 combo su[1]: bye", 1)
    jan = parser.parse("Jan  1 00:00:01 combo su[1]: hello", 2)
    assert dec.timestamp.year == 2005 and jan.timestamp.year == 2006
    assert jan.timestamp > dec.timestamp
    # A small step back is an out-of-order line, not a new year.
    roll = YearRollover()
    a = roll.adjust(datetime(2000, 5, 2, tzinfo=UTC))
    b = roll.adjust(datetime(2000, 5, 1, tzinfo=UTC))
    assert a.year == b.year == 2000


@pytest.mark.parametrize("raw,reason", [
    (b"\x00\x01\x02garbage\xff", "not UTF-8"),
    (b"081109 203615 148 INFO dfs.X: caf\xe9", "not UTF-8"),
    (b"081109 203615 148 INFO dfs.X: bell\x07 in text", "binary data"),
    (b"this is not an HDFS line at all", "does not match"),
    (b"089999 203615 148 INFO dfs.X: month 99", "bad timestamp"),
    (b"081109 203615 148 INFO dfs.X:    ", "empty message"),
])
def test_bad_lines_become_line_errors_with_numbers(raw, reason):
    result = LineParser(get_format("HDFS")).parse(raw, 42)
    assert isinstance(result, LineError)
    assert result.line == 42 and reason in result.reason
    assert str(result).startswith("line 42:")


def test_blank_lines_are_skipped_and_plain_keeps_file_order():
    parser = LineParser(get_format("plain"))
    assert parser.parse(b"   \r\n", 1) is None
    first, second = parser.parse(b"disk full\n", 2), parser.parse(b"disk ok", 3)
    assert first.message == "disk full" and first.timestamp < second.timestamp


def test_jsonl_format_validates_records():
    parser = LineParser(get_format("jsonl"))
    ok = parser.parse(b'{"@timestamp": "2024-01-01T00:00:00Z", "message": "m", '
                      b'"level": "warning", "label": "anomaly"}', 1)
    assert ok.level == "WARN" and ok.label == "anomaly" and ok.stream is None
    bad = parser.parse(b'{"message": "no time"}', 2)
    assert isinstance(bad, LineError) and "missing @timestamp" in bad.reason
    assert "invalid JSON" in parser.parse(b"{nope", 3).reason


def test_unknown_format_and_bad_specs_are_clear_errors():
    with pytest.raises(FormatError, match="unknown format 'nope'.*HDFS"):
        get_format("nope")
    with pytest.raises(FormatError, match="needs --format-spec"):
        resolve_format("custom")
    with pytest.raises(FormatError, match="needs --time-format"):
        resolve_format("custom", "<Date> <Content>")
    with pytest.raises(FormatError, match="level field <Level> is not in the header spec"):
        resolve_format("HDFS", "<Date> <Time> <Content>")
    with pytest.raises(HeaderSpecError, match="exactly once"):
        compile_header("<Date> <Time>")
    with pytest.raises(FormatError, match="exactly once"):
        resolve_format("custom", "<Time> no content", time_format="iso")


def test_custom_spec_parses_its_own_lines():
    fmt = resolve_format("custom", r"<Date> <Time> \[<Level>\] <Host> <Content>",
                         time_format="%Y/%m/%d %H:%M:%S")
    assert fmt.time.fields == ("Date", "Time") and fmt.stream_field == "Host"
    parsed = LineParser(fmt).parse("2024/02/29 10:00:00 [Err] web1 disk failed", 1)
    assert (parsed.level, parsed.stream, parsed.message) == ("ERROR", "web1", "disk failed")
    assert parsed.timestamp == datetime(2024, 2, 29, 10, tzinfo=UTC)


def test_every_builtin_format_is_valid():
    for fmt in BUILTIN_FORMATS.values():
        assert fmt.validate() is fmt


# ---------------------------------------------------------------- masking

@pytest.mark.parametrize("text,expected", [
    ("connect to 10.251.73.220:50010 ok", "connect to <IP> ok"),
    ("from 10.0.0.1.", "from <IP>."),
    ("peer fe80::1%eth0 up", "peer <IP> up"),
    ("addr 2001:db8::8a2e:370:7334 x", "addr <IP> x"),
    ("loopback ::1", "loopback <IP>"),
    ("mapped ::ffff:10.1.2.3", "mapped <IP>"),
    ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full <IP>"),
    ("took 25 ms, -3 left, 0.25 load", "took <NUM> ms, <NUM> left, <NUM> load"),
    ("flags=0x1f handle 7fed806eb5d1", "flags=<HEX> handle <HEX>"),
    ("open /etc/httpd/conf/workers2.properties", "open <PATH>"),
    (r"Core: C:\Windows\winsxs\cbscore.dll", "Core: <PATH>"),
    ("req 38101a0b-2096-447d-96ea-a692162415ae", "req <UUID>"),
    ("block blk_-6952295868487656571 done", "block <BLK> done"),
    ("via proxy.cse.cuhk.edu.hk:5070 HTTPS", "via <HOST> HTTPS"),
    ("nic 00:1a:2b:3c:4d:5e", "nic <MAC>"),
])
def test_masking_replaces_variables(text, expected):
    assert mask_message(text) == expected


@pytest.mark.parametrize("text", [
    "Received block of size from peer",
    "deadbeef decade added face cafe",  # hex letters only: ordinary words
    "Class::add and std::map",          # C++ scope, not IPv6
    "org.apache.hadoop.mapreduce.v2.app.MRAppMaster started",
    "appattempt_1445144423722_0020_000001 v6.1.7601",
    "Ending TrustedInstaller initialization.",
])
def test_masking_leaves_ordinary_words(text):
    assert mask_message(text) == text


def test_clock_times_are_not_taken_for_ipv6():
    assert "<IP>" not in mask_message("at 12:30:45 done")


def test_drain_instructions_mirror_the_rules():
    rules = drain_masking_instructions()
    assert {r["mask_with"] for r in rules} >= {"IP", "NUM", "HEX", "PATH", "UUID", "BLK"}
    assert all(set(r) == {"regex_pattern", "mask_with"} for r in rules)


# ---------------------------------------------------------------- templates

MESSAGES = [
    "PacketResponder 1 for block blk_38865049064139660 terminating",
    "PacketResponder 0 for block blk_-6952295868487656571 terminating",
    "Received block blk_3587508140051953248 of size 67108864 from /10.251.42.84",
    "Received block blk_5402003568334525940 of size 67108864 from /10.251.214.112",
    "Verification succeeded for blk_-4980916519894289629",
]


def test_drain_groups_messages_of_one_event():
    parser = TemplateParser()
    ids = [parser.add(m)[0] for m in MESSAGES]
    assert ids[0] == ids[1] and ids[2] == ids[3]
    assert len({ids[0], ids[2], ids[4]}) == 3
    template_id, text = parser.add(MESSAGES[2])
    assert template_id == ids[2] and "<BLK>" in text and "<IP>" in text
    assert all(isinstance(i, str) for i in ids)


def test_match_is_read_only():
    parser = TemplateParser()
    tid, _ = parser.add(MESSAGES[0])
    assert parser.match(MESSAGES[1])[0] == tid
    assert parser.match("completely unrelated message here") is None
    assert len(parser) == 1


def test_state_round_trip_gives_the_same_ids():
    parser = TemplateParser()
    before = [parser.add(m) for m in MESSAGES]
    restored = TemplateParser.from_bytes(parser.to_bytes())
    assert restored.templates() == parser.templates()
    assert [restored.match(m) for m in MESSAGES] == before
    # Learning goes on from the same counters: a new event gets the same id on both.
    new = "Deleting block blk_1 file /mnt/hadoop/dfs/data/current/blk_1"
    assert restored.add(new) == parser.add(new)


def test_bad_state_bytes_are_refused():
    with pytest.raises(TemplateStateError):
        TemplateParser.from_bytes(b"not a state")
    import json
    import zlib
    with pytest.raises(TemplateStateError, match="not a colog-drain"):
        TemplateParser.from_bytes(zlib.compress(json.dumps({"format": "x"}).encode()))


def _sample_messages() -> list[str]:
    """Every message of the bundled samples (real logs: templates are created and generalise,
    and the Drain tree's wide nodes fill up)."""
    from colog.core.settings import PROJECT_ROOT

    folder = PROJECT_ROOT / "samples" / "loghub"
    return [line.rstrip("\n") for path in sorted(folder.glob("*_2k.log"))
            for line in path.open(encoding="utf-8", errors="replace")]


def test_replayed_changes_rebuild_the_same_state():
    """A copy that applies the learner's changes batch by batch assigns what the learner does."""
    messages = _sample_messages()
    learner, copy = TemplateParser(), TemplateParser()
    kinds = set()
    for start in range(0, 6000, 256):
        for m in messages[start:start + 256]:
            learner.add(m)
        changes = learner.take_changes()
        kinds |= {kind for kind, _, _ in changes}
        copy.apply_changes(changes)
    assert kinds == {"new", "set"}  # both kinds of change were exercised
    assert copy.templates() == learner.templates() and copy.last_id == learner.last_id
    # Learning the rest on both gives the same ids and texts, new templates included.
    rest = messages[6000:]
    assert [copy.add(m) for m in rest] == [learner.add(m) for m in rest]


def test_changes_survive_their_encoding_and_bad_entries_are_refused():
    from colog.core.parsing.drain import decode_change, encode_change

    parser = TemplateParser()
    for m in MESSAGES:
        parser.add(m)
    changes = parser.take_changes()
    assert [decode_change(encode_change(c)) for c in changes] == changes
    assert parser.take_changes() == []  # taken once
    for bad in (b"{", b'{"op": "drop", "id": 1, "tokens": []}', b'{"op": "new", "id": 0, '
                b'"tokens": []}', b'{"op": "new", "id": 1, "tokens": [3]}', b'[1, 2]'):
        with pytest.raises(TemplateStateError):
            decode_change(bad)


def test_inconsistent_changes_are_refused():
    parser = TemplateParser()
    with pytest.raises(TemplateStateError, match="changed before created"):
        parser.apply_changes([("set", 3, ("a", "<*>"))])
    parser.apply_changes([("new", 1, ("a", "b"))])
    with pytest.raises(TemplateStateError, match="created twice"):
        parser.apply_changes([("new", 1, ("a", "b"))])
