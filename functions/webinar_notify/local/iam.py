"""IAM as AWS would enforce it, checked off-cloud: what each function's role allows, and what
each AWS call needs.

moto answers every call whatever the caller's permissions. This module reads
``infra/template.yaml`` after the SAM transform (aws-sam-translator, offline), so policy
templates, SAM's managed policies and the roles SAM generates are what gets checked, resolves
it with fixed values (account 123456789012, region eu-west-1, the parameters' defaults, the
local resource names), and maps a recorded call (botocore service, operation, parameters) to
the IAM actions and resource ARNs it needs, with the quirks AWS documents or shows. The action
names and ARN shapes are checked against policy_sentry's offline copy of the IAM reference.

Only Allow and Deny statements on actions and resources are evaluated; a statement with a
condition the caller cannot meet grants nothing. It needs the dev dependencies
``aws-sam-translator`` and ``policy-sentry``.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from .infra import TEMPLATE

ACCOUNT = "123456789012"  # moto's default account: ARNs built from moto's answers match
REGION = "eu-west-1"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
# Values for parameters without a default; the seed series sends from this domain.
REQUIRED_PARAMETERS = {"SenderIdentity": "estro.example"}
# Physical names of the resources the local runner creates (local/infra.py), so that names in
# recorded calls and ARNs in the resolved template agree; every other resource is named after
# its logical id.
LOCAL_NAMES = {"Table": "webinar-notify", "SendQueue": "webinar-notify-send",
               "SendDeadLetterQueue": "webinar-notify-dlq", "ConfigurationSet": "webinar-notify",
               "JobQueue": "webinar-notify-jobs", "JobDeadLetterQueue": "webinar-notify-jobs-dlq",
               "FeedbackQueue": "webinar-notify-feedback",
               "FeedbackDeadLetterQueue": "webinar-notify-feedback-dlq",
               "ExportBucket": "webinar-notify-exports"}

# The AWS managed policies SAM attaches to the roles it generates (their documents as AWS
# publishes them). A managed policy missing here is an error, not a silent pass.
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Resource": "*",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {"Effect": "Allow", "Resource": "*",
         "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules", "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries"]}],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {"Effect": "Allow", "Resource": "*",
         "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}],
}

# What AWS services do with a function's role on its behalf, never seen as a call of ours:
# Lambda writes its logs, X-Ray tracing (Tracing: Active) sends segments and reads sampling
# rules, an SQS event source polls and deletes, an async failure goes to its destination.
LOGS_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries")
SQS_POLLER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
DESTINATION_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish",
                       "lambda": "lambda:InvokeFunction", "events": "events:PutEvents"}

# botocore service names whose IAM prefix differs.
IAM_PREFIX = {"sesv2": "ses"}


@dataclass(frozen=True, slots=True)
class Need:
    """One permission a call needs: ``action`` on any one of ``resources``."""

    action: str
    resources: tuple[str, ...]
    why: str = ""

    def __str__(self) -> str:
        return f"{self.action} on {' or '.join(self.resources)}"


# -- mapping calls to permissions ---------------------------------------------------------

def needs(service: str, operation: str, params: Mapping[str, Any]) -> list[Need]:
    """The IAM permissions AWS checks for this call."""
    mapper = _MAPPERS.get(service)
    if mapper is not None:
        mapped = mapper(operation, params)
        if mapped is not None:
            return mapped
    return [Need(f"{IAM_PREFIX.get(service, service)}:{operation}", ("*",))]


def _dynamodb(operation: str, params: Mapping[str, Any]) -> list[Need] | None:
    if operation == "TransactWriteItems":  # authorised per item, as the single-item writes
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem"}
        return _unique(Need(f"dynamodb:{kinds[kind]}", (_table_arn(body["TableName"]),),
                            "TransactWriteItems")
                       for item in params.get("TransactItems", [])
                       for kind, body in item.items())
    if operation == "TransactGetItems":
        return _unique(Need("dynamodb:GetItem", (_table_arn(item["Get"]["TableName"]),),
                            "TransactGetItems") for item in params.get("TransactItems", []))
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Need(f"dynamodb:{operation}", (_table_arn(table),))
                for table in params.get("RequestItems", {})]
    if "TableName" not in params:
        return None
    arn = _table_arn(params["TableName"])
    if params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [Need(f"dynamodb:{operation}", (arn,))]


def _sqs(operation: str, params: Mapping[str, Any]) -> list[Need] | None:
    # The batch calls are authorised as their single-message actions.
    action = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(operation, operation)
    if "QueueUrl" in params:
        name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
    elif "QueueName" in params:
        name = str(params["QueueName"])
    else:
        return None
    return [Need(f"sqs:{action}", (_arn("sqs", name),), operation)]


def _sesv2(operation: str, params: Mapping[str, Any]) -> list[Need] | None:
    if operation != "SendEmail":
        return None
    # SES v2 SendEmail with raw content is authorised as ses:SendRawEmail (anymail #384,
    # aws-actionmailer-ses-ruby #10); the IAM reference lists ses:SendEmail for the v2
    # operation. A raw send needs both, so it works whichever AWS checks.
    raw = "Raw" in (params.get("Content") or {})
    actions = ("ses:SendRawEmail", "ses:SendEmail") if raw else ("ses:SendEmail",)
    why = "sesv2 SendEmail (raw)" if raw else "sesv2 SendEmail"
    identities = _identities(params)
    found: list[Need] = []
    for action in actions:
        found.append(Need(action, identities, why))
        if params.get("ConfigurationSetName"):
            found.append(Need(action, (_arn("ses", f"configuration-set/"
                                               f"{params['ConfigurationSetName']}"),), why))
    return found


def _identities(params: Mapping[str, Any]) -> tuple[str, ...]:
    """SES checks the identity it sends from: the address's own, or else its domain's."""
    if params.get("FromEmailAddressIdentityArn"):
        return (str(params["FromEmailAddressIdentityArn"]),)
    address = parseaddr(str(params.get("FromEmailAddress", "")))[1]
    domain = address.rpartition("@")[2]
    return tuple(_arn("ses", f"identity/{name}") for name in (address, domain) if name)


def _ssm(operation: str, params: Mapping[str, Any]) -> list[Need] | None:
    # WithDecryption also uses the SecureString's KMS key: the AWS managed aws/ssm key lets
    # every principal of the account that may read the parameter decrypt through SSM, so
    # the role needs no KMS statement (a customer managed key would).
    if operation in ("GetParameter", "GetParameterHistory"):
        return [Need(f"ssm:{operation}", (_parameter_arn(params["Name"]),))]
    if operation == "GetParameters":
        return [Need("ssm:GetParameters", tuple(_parameter_arn(n) for n in params["Names"]))]
    if operation == "GetParametersByPath":
        return [Need("ssm:GetParametersByPath", (_parameter_arn(params["Path"]),))]
    return None


# Cognito user pool operations that are not IAM-authorised at all: the app client's own
# sign-in flow and the calls authorised by the user's access token (Cognito developer guide,
# "Understanding API, OIDC, and managed login pages authentication"). An AWS role needs no
# permission for them; every admin operation does.
COGNITO_UNAUTHENTICATED = frozenset({
    "InitiateAuth", "RespondToAuthChallenge", "RevokeToken", "GlobalSignOut", "GetUser",
    "ChangePassword", "ForgotPassword", "ConfirmForgotPassword", "SignUp", "ConfirmSignUp",
    "ResendConfirmationCode"})


def _cognito_idp(operation: str, params: Mapping[str, Any]) -> list[Need] | None:
    if operation in COGNITO_UNAUTHENTICATED:
        return []
    if "UserPoolId" in params:
        return [Need(f"cognito-idp:{operation}", (_arn("cognito-idp",
                                                        f"userpool/{params['UserPoolId']}"),))]
    return None


def _s3(operation: str, params: Mapping[str, Any]) -> list[Need] | None:
    """Object calls on ``arn:aws:s3:::bucket/key``; a multipart upload's steps are all
    authorised as s3:PutObject and HeadObject as s3:GetObject; presigning is no call at all
    (the link's GET is checked against the signer's s3:GetObject when it is used)."""
    if "Bucket" not in params or "Key" not in params:
        return None
    action = {"CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
              "CompleteMultipartUpload": "PutObject",
              "HeadObject": "GetObject"}.get(operation, operation)
    return [Need(f"s3:{action}", (f"arn:{PARTITION}:s3:::{params['Bucket']}/{params['Key']}",),
                 operation)]


def _unique(items: Iterable[Need]) -> list[Need]:
    return list(dict.fromkeys(items))


def _arn(service: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}"


def _table_arn(table: str) -> str:
    return table if table.startswith("arn:") else _arn("dynamodb", f"table/{table}")


def _parameter_arn(name: str) -> str:
    return _arn("ssm", f"parameter/{name.lstrip('/')}")  # one slash, with or without its own


_MAPPERS = {"dynamodb": _dynamodb, "sqs": _sqs, "sesv2": _sesv2, "ssm": _ssm,
            "cognito-idp": _cognito_idp, "s3": _s3}


# -- policies -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)  # the same few patterns, matched for every recorded call
def _wildcard(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern), flags | re.DOTALL)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def action_matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards."""
    return _wildcard(pattern, re.IGNORECASE).fullmatch(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    """IAM resource matching: case-sensitive, ``*`` and ``?`` wildcards."""
    return _wildcard(pattern).fullmatch(resource) is not None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who asks, for resource and key policies: a service on behalf of an account/resource."""

    service: str = ""
    aws: str = ""  # an account root or role ARN

    def named_by(self, principal: Any) -> bool:
        if principal == "*":
            return True
        if not isinstance(principal, Mapping):
            return False
        if self.service and self.service in _listed(principal.get("Service")):
            return True
        return bool(self.aws) and any(p == "*" or p == self.aws or p == self.aws.split(":")[4]
                                      for p in _listed(principal.get("AWS")))


@dataclass(frozen=True, slots=True)
class Policy:
    """Resolved policy statements (identity, resource or key policy)."""

    statements: tuple[Mapping[str, Any], ...]

    def allows(self, action: str, resource: str, principal: Principal | None = None,
               context: Mapping[str, str] | None = None) -> bool:
        """Some Allow statement matches and no Deny statement does."""
        matching = [s for s in self.statements
                    if self._matches(s, action, resource, principal, context or {})]
        return any(s["Effect"] == "Allow" for s in matching) and \
            not any(s["Effect"] == "Deny" for s in matching)

    def grants(self) -> list[tuple[str, str]]:
        """Every (action pattern, resource pattern) pair an Allow statement holds."""
        return [(action, resource) for s in self.statements if s["Effect"] == "Allow"
                for action in _listed(s.get("Action")) for resource in _listed(s.get("Resource"))]

    @staticmethod
    def _matches(statement: Mapping[str, Any], action: str, resource: str,
                 principal: Principal | None, context: Mapping[str, str]) -> bool:
        if principal is not None and not principal.named_by(statement.get("Principal")):
            return False
        if "Action" in statement:
            if not any(action_matches(p, action) for p in _listed(statement["Action"])):
                return False
        elif any(action_matches(p, action) for p in _listed(statement.get("NotAction"))):
            return False
        if "Resource" in statement:
            if not any(resource_matches(p, resource) for p in _listed(statement["Resource"])):
                return False
        elif any(resource_matches(p, resource) for p in _listed(statement.get("NotResource"))):
            return False
        return _conditions_hold(statement.get("Condition") or {}, context)


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]],
                     context: Mapping[str, str]) -> bool:
    """StringEquals/StringLike/ArnEquals/ArnLike (keys case-insensitive); an unknown operator
    or a key the context lacks fails, so an unmet condition never grants."""
    known = {key.lower(): value for key, value in context.items()}
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            value = known.get(key.lower())
            if value is None:
                return False
            patterns = [str(e) for e in _listed(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                ok = value in patterns
            elif operator in ("StringLike", "ArnLike"):
                ok = any(resource_matches(p, value) for p in patterns)
            else:
                return False
            if not ok:
                return False
    return True


# -- the transformed, resolved template -----------------------------------------------------

@functools.lru_cache(maxsize=4)
def sam_transform(text: str) -> dict[str, Any]:
    """The SAM transform, offline: bundled managed-policy ARNs, no AWS session needed."""
    import boto3
    from samtranslator.internal.managed_policies import (  # type: ignore[import-untyped]
        get_bundled_managed_policy_map,
    )
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    template: dict[str, Any] = yaml_parse(text)
    # As `sam validate` does: a local CodeUri becomes an S3 location for the transform.
    functions = [template.get("Globals", {}).get("Function", {})] + [
        r.get("Properties", {}) for r in template["Resources"].values()
        if r.get("Type") == "AWS::Serverless::Function"]
    for properties in functions:
        if isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = "s3://local/lambda.zip"
    parameters = {**_defaults(template), **REQUIRED_PARAMETERS,
                  "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION}
    translator = Translator(managed_policy_map=get_bundled_managed_policy_map(PARTITION),
                            sam_parser=Parser(),
                            boto_session=boto3.session.Session(region_name=REGION))
    result: dict[str, Any] = translator.translate(template, parameter_values=parameters)
    return result


def _defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    return {name: spec["Default"] for name, spec in template.get("Parameters", {}).items()
            if "Default" in spec}


class Stack:
    """infra/template.yaml as CloudFormation would see it, with fixed fake values."""

    def __init__(self, text: str | None = None, parameters: Mapping[str, str] | None = None
                 ) -> None:
        template = copy.deepcopy(sam_transform(text if text is not None
                                              else Path(TEMPLATE).read_text(encoding="utf-8")))
        self.parameters: dict[str, Any] = {**_defaults(template), **REQUIRED_PARAMETERS,
                                           **(parameters or {})}
        self._raw = template["Resources"]
        self._parameter_specs: dict[str, Any] = template.get("Parameters", {})
        self._conditions = template.get("Conditions", {})
        self.resources: dict[str, Any] = {
            name: {**resource, "Properties": self.resolve(resource.get("Properties", {}))}
            for name, resource in self._raw.items()
            if "Condition" not in resource or self._condition(resource["Condition"])}

    # -- names and attributes

    def name(self, logical_id: str) -> str:
        return LOCAL_NAMES.get(logical_id, logical_id)

    def ref(self, logical_id: str) -> str:
        kind = self._raw[logical_id]["Type"]
        name = self.name(logical_id)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT}/{name}"
        if kind == "AWS::SNS::Topic":
            return _arn("sns", name)
        return name

    def attribute(self, logical_id: str, attribute: str) -> str:
        kind = self._raw[logical_id]["Type"]
        name = self.name(logical_id)
        if attribute in ("QueueName", "TopicName"):
            return name
        if attribute == "Arn" or (attribute == "TopicArn" and kind == "AWS::SNS::Topic"):
            return {
                "AWS::DynamoDB::Table": _arn("dynamodb", f"table/{name}"),
                "AWS::SQS::Queue": _arn("sqs", name),
                "AWS::SNS::Topic": _arn("sns", name),
                "AWS::KMS::Key": _arn("kms", f"key/{name}"),
                "AWS::Lambda::Function": _arn("lambda", f"function:{name}"),
                "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
                "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
            }.get(kind, _arn(kind.split("::")[1].lower(), name))
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        raise KeyError(f"{logical_id}.{attribute} is not modelled")

    # -- intrinsic functions

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(key, argument)] = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                target, attribute = (argument.split(".", 1) if isinstance(argument, str)
                                     else argument)
                return self.attribute(target, attribute)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::If":
                condition, then, otherwise = argument
                return self.resolve(then if self._condition(condition) else otherwise)
            if key == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
                  "AWS::URLSuffix": URL_SUFFIX, "AWS::StackName": "webinar-notify",
                  "AWS::NoValue": _NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.ref(name)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and name.split(".", 1)[0] in self._raw:
                return self.attribute(*name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    def _condition(self, name: str) -> bool:
        return bool(self._evaluate(self._conditions[name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            [(key, argument)] = expression.items()
            if key == "Fn::Not":
                return not self._evaluate(argument[0])
            if key == "Fn::And":
                return all(self._evaluate(a) for a in argument)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in argument)
            if key == "Fn::Equals":
                left, right = (self._evaluate(a) for a in argument)
                return str(left) == str(right)
            if key == "Condition":
                return self._condition(argument)
        return self.resolve(expression)

    # -- policies

    def functions(self) -> list[str]:
        return sorted(n for n, r in self.resources.items() if r["Type"] == "AWS::Lambda::Function")

    def role_policy(self, function: str) -> Policy:
        """Every statement of the function's role: inline policies and managed ones."""
        role_arn = self.resources[function]["Properties"]["Role"]
        [role] = [r["Properties"] for n, r in self.resources.items()
                  if r["Type"] == "AWS::IAM::Role" and self.attribute(n, "Arn") == role_arn]
        statements: list[Mapping[str, Any]] = []
        for policy in role.get("Policies", []):
            statements += _listed(policy["PolicyDocument"]["Statement"])
        for arn in role.get("ManagedPolicyArns", []):
            if arn not in MANAGED_POLICIES:
                raise KeyError(f"managed policy {arn} is not known to the checker")
            statements += MANAGED_POLICIES[arn]
        return Policy(tuple(_normalised(s) for s in statements))

    def resource_policy(self, logical_id: str) -> Policy:
        """The key policy of a KMS key, or the policy a topic or queue policy resource gives
        to ``logical_id``."""
        resource = self.resources[logical_id]
        if resource["Type"] == "AWS::KMS::Key":
            document = resource["Properties"]["KeyPolicy"]
        else:
            target = self.ref(logical_id)
            documents = [r["Properties"]["PolicyDocument"] for r in self.resources.values()
                         if r["Type"] in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy")
                         and target in (r["Properties"].get("Topics", [])
                                        + r["Properties"].get("Queues", []))]
            document = {"Statement": [s for d in documents for s in _listed(d["Statement"])]}
        return Policy(tuple(_normalised(s) for s in _listed(document["Statement"])))

    def _may_trace(self, function: str) -> bool:
        """Tracing is on, or set by a parameter that allows it: the role keeps X-Ray's grant
        for the day an operator turns it on."""
        mode = self._raw[function]["Properties"].get("TracingConfig", {}).get("Mode")
        if isinstance(mode, dict) and set(mode) == {"Ref"}:
            spec = self._parameter_specs.get(str(mode["Ref"]), {})
            return "Active" in spec.get("AllowedValues", [spec.get("Default")])
        return bool(self.resolve(mode) == "Active")

    def on_behalf(self, function: str) -> list[Need]:
        """What AWS services do with this function's role for it (never a call of ours)."""
        name = self.name(function)
        log_group = _arn("logs", f"log-group:/aws/lambda/{name}")
        found = [Need(a, (f"{log_group}:*", f"{log_group}:log-stream:*"), "Lambda logs")
                 for a in LOGS_ACTIONS]
        if self._may_trace(function):
            found += [Need(a, ("*",), "X-Ray tracing") for a in XRAY_ACTIONS]
        function_ref = self.ref(function)
        for resource in self.resources.values():
            properties = resource["Properties"]
            if resource["Type"] == "AWS::Lambda::EventSourceMapping" and \
                    properties["FunctionName"] == function_ref and \
                    str(properties["EventSourceArn"]).startswith(f"arn:{PARTITION}:sqs:"):
                found += [Need(a, (properties["EventSourceArn"],), "SQS event source")
                          for a in SQS_POLLER_ACTIONS]
            if resource["Type"] == "AWS::Lambda::EventInvokeConfig" and \
                    properties["FunctionName"] == function_ref:
                for outcome in properties.get("DestinationConfig", {}).values():
                    destination = str(outcome["Destination"])
                    action = DESTINATION_ACTIONS[destination.split(":")[2]]
                    found.append(Need(action, (destination,), "async invocation destination"))
        return found


_NO_VALUE: Any = object()


def _normalised(statement: Mapping[str, Any]) -> dict[str, Any]:
    return {**statement, "Effect": statement.get("Effect", "Allow")}


def parameters_from_environment(env: Mapping[str, str], text: str | None = None
                                ) -> dict[str, str]:
    """Template parameters as a function's environment shows them: a variable the template
    sets to ``/${Parameter}`` (the SSM names) gives that parameter's value back."""
    variables = _ssm_variables(text if text is not None else _template_text())
    return {parameter: env[variable][1:] for variable, parameter in variables.items()
            if env.get(variable, "").startswith("/")}


@functools.lru_cache(maxsize=1)
def _template_text() -> str:
    return Path(TEMPLATE).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=4)
def _ssm_variables(text: str) -> dict[str, str]:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(text)
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get(
        "Variables", {})
    found: dict[str, str] = {}
    for variable, value in variables.items():
        sub = value.get("Fn::Sub") if isinstance(value, dict) else None
        match = re.fullmatch(r"/\$\{(\w+)\}", sub) if isinstance(sub, str) else None
        if match:
            found[variable] = match.group(1)
    return found


@functools.lru_cache(maxsize=16)
def stack_for(parameters: tuple[tuple[str, str], ...] = ()) -> Stack:
    """The resolved stack for these parameter values (computed once per set)."""
    return Stack(parameters=dict(parameters))


# -- verdicts -------------------------------------------------------------------------------

def denied_needs(policy: Policy, call_needs: Iterable[Need]) -> list[Need]:
    """The needs no statement of ``policy`` allows (on any of their resources)."""
    return [n for n in call_needs if not any(policy.allows(n.action, r) for r in n.resources)]


def unused_grants(policy: Policy, used: Iterable[Need]) -> list[tuple[str, str]]:
    """(action, resource) pairs the policy allows that no used need matches."""
    used = list(used)
    return [(action, resource) for action, resource in policy.grants()
            if not any(action_matches(action, n.action)
                       and any(resource_matches(resource, r) for r in n.resources)
                       for n in used)]


# -- the IAM reference (policy_sentry) ------------------------------------------------------

def unknown_actions(actions: Iterable[str]) -> list[str]:
    """Actions (or patterns) that name no action in the IAM reference."""
    from policy_sentry.querying.actions import get_actions_for_service

    unknown = []
    for pattern in actions:
        service = pattern.split(":", 1)[0]
        if pattern == "*" or not any(action_matches(pattern, a)
                                     for a in get_actions_for_service(service)):
            unknown.append(pattern)
    return unknown


def fits_reference(need: Need) -> bool:
    """The action exists and one of the resources has an ARN shape the IAM reference lists
    for it (``*`` only where the action takes no resource)."""
    from policy_sentry.querying.actions import get_action_data

    service, _, name = need.action.partition(":")
    entries = (get_action_data(service, name) or {}).get(service, [])
    formats = [str(e["resource_arn_format"]) for e in entries]
    if not formats:
        return False
    if need.resources == ("*",):
        return "*" in formats
    shapes = [re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(f))) for f in formats
              if f != "*"]
    return any(shape.fullmatch(r) for shape in shapes for r in need.resources)
