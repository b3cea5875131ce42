"""A plain, slow, obviously-correct Extension Summary written straight from the spec.

It shares nothing with the engine but the field names, so the engine can be checked
against it on random legs. Loops over legs are fine here: this is a test oracle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

#: extension-summary.md §3, in order; v1 omits the two marked fields.
SPEC_FIELDS: tuple[str, ...] = (
    "PbxId", "Extension", "ServiceType", "FirstName", "LastName", "Branch", "Department",
    "External_Inbound_Total", "External_Inbound_Answered", "External_Inbound_Abandoned",
    "Percent_External_Inbound_Answered", "External_Inbound_Missed",
    "External_Outbound_Total", "External_Outbound_Answered",
    "Percent_External_Outbound_Answered", "External_Outbound_Abandoned",
    "Internal_Inbound_Total", "Internal_Inbound_Answered", "Internal_Inbound_Abandoned",
    "Internal_Inbound_Missed", "Internal_Outbound_Total", "Internal_Outbound_Answered",
    "Internal_Outbound_Abandoned", "Inbound_Total", "Inbound_Answered", "Inbound_Abandoned",
    "Inbound_Missed", "Total_Calls_To_VM", "Outbound_Total", "Outbound_Answered",
    "Outbound_Abandoned", "Total_Answered", "Total_Abandoned", "Total_Missed",
    "Total_Ring_Time", "Total_Talk_Time", "Total_Abandoned_Time", "Total_Call_Time",
    "Avg_Ring_Time", "Avg_Talk_Time", "Inbound_Talk_Time", "Outbound_Talk_Time",
    "Avg_Abandoned_Time", "Email", "UserName",
)  # fmt: skip
V2_ONLY = ("Inbound_Talk_Time", "Outbound_Talk_Time")


def _fdiv(n: int, d: int) -> int:
    return 0 if d == 0 else n // d


def _sort_key(row: Mapping[str, object]) -> tuple:
    ext = str(row["Extension"])
    if ext.isascii() and ext.isdigit():
        return (row["PbxId"], 0, int(ext), ext)
    return (row["PbxId"], 1, 0, ext)


def reference_summary(
    legs: Iterable,
    directory: Sequence[Mapping[str, str]] = (),
    *,
    pbx_ids: Sequence[str] | None = None,
    start_ms: int = 0,
    end_ms: int = 2**62,
    version: int = 2,
) -> list[dict[str, object]]:
    acc: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for leg in legs:
        if pbx_ids is not None and leg.pbx_id not in pbx_ids:
            continue
        if not (start_ms <= leg.start_time < end_ms):
            continue
        if leg.status != "Completed":
            continue
        if leg.caller_ext is not None and leg.caller_ext == leg.callee_ext:
            continue
        answered = leg.connect_time is not None
        ring = (leg.connect_time if answered else leg.end_time) - leg.start_time
        talk = leg.end_time - leg.connect_time if answered else 0
        internal = leg.caller_ext is not None and leg.callee_ext is not None
        side = "N" if internal else "X"
        if leg.callee_ext is not None:
            a = acc[(leg.pbx_id, leg.callee_ext)]
            a[f"I{side}"] += 1
            a[f"I{side}_ans"] += answered
            a[f"I{side}_aban"] += leg.abandoned
            a["vm"] += leg.voicemail
            a["ring"] += ring
            a["ringing"] += ring > 0
            a["in_talk"] += talk
            if leg.abandoned:
                a["aban_time"] += ring
        if leg.caller_ext is not None:
            a = acc[(leg.pbx_id, leg.caller_ext)]
            a[f"O{side}"] += 1
            a[f"O{side}_ans"] += answered
            a["ring"] += ring
            a["ringing"] += ring > 0
            a["out_talk"] += talk
            if not answered:
                a["aban_time"] += ring
    people = {(d["pbx_id"], d["extension"]): d for d in directory}
    rows = []
    for (pbx, ext), a in acc.items():
        d = people.get((pbx, ext), {})
        service = d.get("service_type") or "UE"
        ix, ix_ans, ix_ab = a["IX"], a["IX_ans"], a["IX_aban"]
        inn, in_ans, in_ab = a["IN"], a["IN_ans"], a["IN_aban"]
        ox, ox_ans, on, on_ans = a["OX"], a["OX_ans"], a["ON"], a["ON_ans"]
        in_total, in_answered = ix + inn, ix_ans + in_ans
        out_total, out_answered = ox + on, ox_ans + on_ans
        total_answered = in_answered + out_answered
        total_abandoned = (ix_ab + in_ab) + (out_total - out_answered)
        talk = a["in_talk"] + a["out_talk"]

        def user_field(name: str, d=d, service=service) -> str:
            value = d.get(name, "")
            return value if (d and service == "UE" and value) else "N/A"

        row = {
            "PbxId": pbx,
            "Extension": ext,
            "ServiceType": service,
            "FirstName": d.get("first_name", ""),
            "LastName": d.get("last_name", ""),
            "Branch": d.get("branch", ""),
            "Department": d.get("department", ""),
            "External_Inbound_Total": ix,
            "External_Inbound_Answered": ix_ans,
            "External_Inbound_Abandoned": ix_ab,
            "Percent_External_Inbound_Answered": _fdiv(100 * ix_ans, ix),
            "External_Inbound_Missed": ix - ix_ans,
            "External_Outbound_Total": ox,
            "External_Outbound_Answered": ox_ans,
            "Percent_External_Outbound_Answered": _fdiv(100 * ox_ans, ox),
            "External_Outbound_Abandoned": ox - ox_ans,
            "Internal_Inbound_Total": inn,
            "Internal_Inbound_Answered": in_ans,
            "Internal_Inbound_Abandoned": in_ab,
            "Internal_Inbound_Missed": inn - in_ans,
            "Internal_Outbound_Total": on,
            "Internal_Outbound_Answered": on_ans,
            "Internal_Outbound_Abandoned": on - on_ans,
            "Inbound_Total": in_total,
            "Inbound_Answered": in_answered,
            "Inbound_Abandoned": ix_ab + in_ab,
            "Inbound_Missed": in_total - in_answered,
            "Total_Calls_To_VM": a["vm"],
            "Outbound_Total": out_total,
            "Outbound_Answered": out_answered,
            "Outbound_Abandoned": out_total - out_answered,
            "Total_Answered": total_answered,
            "Total_Abandoned": total_abandoned,
            "Total_Missed": in_total - in_answered,
            "Total_Ring_Time": a["ring"],
            "Total_Talk_Time": talk,
            "Total_Abandoned_Time": a["aban_time"],
            "Total_Call_Time": a["ring"] + talk,
            "Avg_Ring_Time": _fdiv(a["ring"], a["ringing"]),
            "Avg_Talk_Time": _fdiv(talk, total_answered),
            "Inbound_Talk_Time": a["in_talk"],
            "Outbound_Talk_Time": a["out_talk"],
            "Avg_Abandoned_Time": _fdiv(a["aban_time"], total_abandoned),
            "Email": user_field("email"),
            "UserName": user_field("username"),
        }
        names = SPEC_FIELDS if version == 2 else tuple(f for f in SPEC_FIELDS if f not in V2_ONLY)
        rows.append({k: row[k] for k in names})
    rows.sort(key=_sort_key)
    return rows
