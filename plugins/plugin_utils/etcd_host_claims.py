# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The inventory's word about a host, checked against what the host runs.

The inventory claims which etcd member runs on a host (etcd_member_name, or
etcd<position in the etcd group> as kubespray derives it), how etcd runs there
(etcd_deployment_type) and where it is reached (access_ip, ip, ansible_host). The host
says which member its files name (etcd_node), which member answers on its own
loopback client URL (etcd_health's local_endpoint) and what etcd advertises. Any
disagreement is a problem: the kit must refuse before it disrupts anything, because
gating for one member and rebooting the host of another can take quorum away.

Controller-side only (Python 3.11).
"""

from __future__ import annotations

from typing import Any

_FIX = "Nothing was changed."


def _same_url(left: str, right: str) -> bool:
    return left.rstrip("/").lower() == right.rstrip("/").lower()


def host_claim_problems(host: str, claims: dict[str, Any], node: dict[str, Any], health: dict[str, Any]
                        ) -> list[dict[str, str]]:
    """[{check, message}] for every way the inventory and the host disagree.

    claims: {"member_name": the kit's member name for the host, "layout": the
    inventory's layout ("" when it names none), "endpoint": the client URL the kit uses
    for the host}. node: the etcd_node result. health: an etcd_health result asked with
    local_endpoint (its "local" may be absent when the host has no loopback URL).
    """
    problems = []

    def problem(check: str, message: str) -> None:
        problems.append({"check": check, "message": "%s: %s %s" % (host, message, _FIX)})

    for text in node.get("problems") or []:
        problem("etcd_files", "%s. The kit must read from each host which member it runs before it disrupts "
                              "any member." % text)
    observed = node.get("member_name")
    local = health.get("local") or {}
    if observed and local.get("name") and local["name"] != observed:
        problem("local_member", "%s names the member %s, but the member answering on %s is %s: the file and the "
                                "running etcd disagree (a member renamed or replaced by hand?); make them agree "
                                "before a rollout." % (node["name_source"], observed, local["endpoint"],
                                                       local["name"]))
    if observed and claims["member_name"] != observed:
        answering = (" and it answers on %s" % local["endpoint"]) if local.get("name") == observed else ""
        problem("member_name", "the inventory gives it the member %s (etcd_member_name, else etcd<position in the "
                               "etcd group> as kubespray derives it), but the host runs %s (%s%s). Set "
                               "etcd_member_name: %s for %s, or list the etcd group in the order kubespray named "
                               "the members." % (claims["member_name"], observed, node["name_source"], answering,
                                                 observed, host))
    if claims.get("layout") and node.get("layout") and claims["layout"] != node["layout"]:
        problem("layout", "the inventory says etcd runs in the %s layout (etcd_deployment_type), but the host runs "
                          "it in the %s layout (%s). Set etcd_deployment_type: %s, or leave it out: the kit reads "
                          "the layout from the host." % (claims["layout"], node["layout"],
                                                         ", ".join(node.get("files") or []), node["layout"]))
    names = [member["name"] for member in health.get("members") or [] if member.get("name")]
    if observed and names and observed not in names:
        problem("membership", "the host runs the member %s (%s), but etcd has no member of that name (its "
                              "members: %s). Fix the member or etcd's membership first."
                % (observed, node["name_source"], ", ".join(names)))
    advertised = node.get("advertise_client_urls") or []
    if advertised and not any(_same_url(claims["endpoint"], url) for url in advertised):
        problem("address", "the kit would reach its member at %s (access_ip, else ip, else the host's default IPv4 address, "
                           "as kubespray addresses etcd), but etcd "
                           "there advertises %s (%s). Set access_ip (or ip) for %s to the address etcd advertises."
                % (claims["endpoint"], ", ".join(advertised), node["name_source"].split(" ")[0], host))
    return problems


def node_claim_problems(host: str, etcd_group: str, node: dict[str, Any]) -> list[dict[str, str]]:
    """[{check, message}] for a node the inventory keeps out of the etcd group that runs an
    etcd member all the same (node: the etcd_node result): rebooting it as a worker would
    take that member out without the gates that keep quorum."""
    if not node.get("layout"):
        return []
    member = node.get("member_name") or "an unnamed member"
    return [{"check": "etcd_group", "message": (
        "%s: the inventory does not put it in the etcd group %r, but it runs the etcd member %s (%s, %s layout). "
        "Add it to %s (kubespray's etcd) so that its member is gated like the others, or remove the member. %s"
        % (host, etcd_group, member, ", ".join(node.get("files") or []), node["layout"], etcd_group, _FIX))}]
