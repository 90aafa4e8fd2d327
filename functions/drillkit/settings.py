"""Where the CLI runs when no flag says: the deployed stack and its region from a `drillkit.toml` (CLI only).

Order, first wins: the command's flag; the environment ($DRILLKIT_STACK; $AWS_REGION, then $AWS_DEFAULT_REGION);
`drillkit.toml` in the current directory (or the file $DRILLKIT_CONFIG names); the samconfig.toml environment that
drillkit.toml names with `samconfig_env`. samconfig.toml is never read on its own: a project that has one (this
repository does) keeps the local lab as its default until its drillkit.toml says otherwise.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drillkit.errors import ConfigurationError
from drillkit.spec import REGION_PATTERN, describe_validation_error

CONFIG_VARIABLE = "DRILLKIT_CONFIG"
STACK_VARIABLE = "DRILLKIT_STACK"
CONFIG_FILE = Path("drillkit.toml")
STACK_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,127}$"  # CloudFormation's rule for stack names


class Settings(BaseModel):
    """drillkit.toml: every key optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    stack_name: str | None = Field(default=None, pattern=STACK_NAME_PATTERN, description="The deployed drillkit stack.")
    region: str | None = Field(default=None, pattern=REGION_PATTERN, description="Its region.")
    samconfig_env: str | None = Field(
        default=None, min_length=1, description="Take stack_name and region from this environment of samconfig.toml."
    )
    samconfig: Path = Field(default=Path("samconfig.toml"), description="The samconfig file, relative to drillkit.toml.")


class SamConfigEnvironment(BaseModel):
    """What drillkit reads of one samconfig.toml environment ([ENV.global.parameters], [ENV.deploy.parameters])."""

    model_config = ConfigDict(frozen=True)
    stack_name: str | None = None
    region: str | None = None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from None


def config_path() -> Path | None:
    """The drillkit.toml in effect: $DRILLKIT_CONFIG (which must exist), else ./drillkit.toml when there is one."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        if not Path(named).is_file():
            raise ConfigurationError(f"${CONFIG_VARIABLE} names {named}, which does not exist")
        return Path(named)
    return CONFIG_FILE if CONFIG_FILE.is_file() else None


def _samconfig(path: Path, environment: str) -> SamConfigEnvironment:
    document = _read_toml(path)
    if environment not in document:
        found = ", ".join(k for k, v in document.items() if isinstance(v, dict)) or "none"
        raise ConfigurationError(f"{path}: no environment [{environment}] (found: {found})")
    sections = document[environment]
    parameters = {**sections.get("deploy", {}).get("parameters", {}), **sections.get("global", {}).get("parameters", {})}
    return SamConfigEnvironment(stack_name=parameters.get("stack_name"), region=parameters.get("region"))


def load() -> Settings:
    """The settings of drillkit.toml (and the samconfig environment it names); empty without a file."""
    path = config_path()
    if path is None:
        return Settings()
    try:
        settings = Settings.model_validate(_read_toml(path))
    except ValidationError as error:
        problems = "; ".join(f"{field}: {problem}" for field, problem in describe_validation_error(error, whole="(file)"))
        raise ConfigurationError(f"{path} is invalid: {problems}") from None
    if settings.samconfig_env is None:
        return settings
    try:
        sam = _samconfig(path.parent / settings.samconfig, settings.samconfig_env)
    except ConfigurationError as error:
        raise ConfigurationError(f"{path}: samconfig_env {settings.samconfig_env!r}: {error}") from None
    return settings.model_copy(
        update={"stack_name": settings.stack_name or sam.stack_name, "region": settings.region or sam.region}
    )


def stack_and_region(stack_flag: str | None, region_flag: str | None, lab_asked: bool) -> tuple[str | None, str | None]:
    """The stack (None: the lab) and region a command uses, flag first, then environment, then drillkit.toml."""
    if stack_flag:
        return stack_flag, region_flag or load().region
    if lab_asked:
        return None, region_flag
    settings = load()
    return os.environ.get(STACK_VARIABLE) or settings.stack_name, region_flag or settings.region
