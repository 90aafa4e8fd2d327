"""The allow tag: drillkit changes only resources their owners marked as fair game for drills.

The resource a fault changes must carry the tag ``drillkit:allow`` with the value ``true``, or the
drill is refused in preflight, before anything is touched. The tag is read through each service's
own tagging API. ``drillkit:protected=true`` on the same resource makes its environment protected:
a drill there waits for a person's approval (``drillkit approve``) before it touches anything.
"""

from __future__ import annotations

from typing import Any

from drillkit import aws
from drillkit.errors import TargetNotAllowed
from drillkit.faults.base import Resource

ALLOW_TAG = "drillkit:allow"
ALLOW_VALUE = "true"
PROTECTED_TAG = "drillkit:protected"


def _tags(resource_type: str, resource_id: str) -> dict[str, str]:
    region = resource_id.split(":")[3] if resource_id.startswith("arn:") else None
    if resource_type == "AWS::Route53::HealthCheck":
        with aws.aws_call("ListTagsForResource", resource_id):
            found = aws.target_client("route53").list_tags_for_resource(ResourceType="healthcheck", ResourceId=resource_id)
        return {t["Key"]: t["Value"] for t in found["ResourceTagSet"].get("Tags", [])}
    if resource_type.startswith("AWS::ElasticLoadBalancingV2::"):
        with aws.aws_call("DescribeTags", resource_id):
            found = aws.target_client("elbv2", region).describe_tags(ResourceArns=[resource_id])["TagDescriptions"]
        return {t["Key"]: t["Value"] for d in found for t in d.get("Tags", [])}
    if resource_type == "AWS::ECS::Service":
        with aws.aws_call("ListTagsForResource", resource_id):
            found = aws.target_client("ecs", region).list_tags_for_resource(resourceArn=resource_id)
        return {t["key"]: t["value"] for t in found.get("tags", [])}
    if resource_type == "AWS::Lambda::Function":
        with aws.aws_call("ListTags", resource_id):
            return dict(aws.target_client("lambda", region).list_tags(Resource=resource_id).get("Tags", {}))
    if resource_type == "AWS::RDS::DBCluster":
        with aws.aws_call("ListTagsForResource", resource_id):
            found = aws.target_client("rds", region).list_tags_for_resource(ResourceName=resource_id)
        return {t["Key"]: t["Value"] for t in found.get("TagList", [])}
    raise TargetNotAllowed(f"drillkit cannot read the tags of {resource_type} {resource_id}")


def require(resources: list[Resource]) -> dict[str, str]:
    """The first resource a fault lists is the one it changes; it must carry the allow tag. Returns its tags."""
    changed = resources[0]
    tags = _tags(changed["type"], changed["id"])
    value = tags.get(ALLOW_TAG)
    if value != ALLOW_VALUE:
        found = "no such tag" if value is None else f"{ALLOW_TAG}={value}"
        raise TargetNotAllowed(
            f"fault: {changed['type']} {changed['id']} ({changed['role']}) does not carry the tag "
            f"{ALLOW_TAG}={ALLOW_VALUE} ({found}); drillkit changes only resources their owners tagged for drills"
        )
    return tags


def is_protected(tags: dict[str, str]) -> bool:
    return tags.get(PROTECTED_TAG, "").lower() == "true"


def tag_list(tags: dict[str, Any] | None = None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in (tags or {ALLOW_TAG: ALLOW_VALUE}).items()]
