"""Statistical secrecy: small counts of persons are not published below the département.

Applied once, in the library, before any table, notebook or chart sees the values
(``engine.Engine.table`` and ``engine.Engine.values`` call :func:`apply_secrecy`).

Rules (the threshold, 5 by default, comes from ``params/<année>.yaml``: ``secret_threshold``):

1. **Who is concerned.** Indicators that count persons (``personnes: true`` in the referential):
   counts (``comptage``), percentages (``pourcentage``: the persons are the denominator), average
   durations (``duree``: the persons are the ``.personnes`` row) and rates (``taux``) whose numerator
   counts persons. Indicators that do not count persons (places, réunions, faits enregistrés…) are
   never masked. Qualitative, date and milestone rows have no number and are never masked.
2. **Département always published.** The row of the département (code ``plan.departement``,
   ``"62"``) is never masked, whatever its size.
3. **Primary secrecy** (``motif_secret = "primaire"``): an infra-départemental cell whose *effectif*
   (the count itself, the denominator of a percentage, the persons of a duration, the numerator of a
   rate) is at least 1 and below the threshold. **Zero is not secret by itself** (no person can be
   identified in an empty cell). A percentage of persons is also masked when its *numerator* is
   below the threshold (percentage × denominator gives it back). A person-percentage or duration
   reported without its denominator (effectif unknown) is masked too: its size cannot be checked.
4. **Secondary secrecy** (``motif_secret = "secondaire"``): the parts of one indicator, year and
   territorial level add up to the published département total. If exactly one of those parts is
   masked, it could be recovered by subtraction; the smallest other part (smallest effectif, then
   smallest code; a zero may be chosen) is masked too. One pass suffices: a group never ends with
   exactly one masked cell. If the masked cell is the only part with a value, nothing else can be
   masked (the département, always published, then equals it).
5. **Values derived from another year.** When the table carries ``effectif_n_1`` (effectif of the
   previous year) or ``effectif_reference`` (effectif of the reported reference year), the same rules
   are applied to those columns, and ``valeur_n_1``/``evolution``/``evolution_pct`` (resp.
   ``reference``/``evolution_reference_pct``/``progression_pct``) are emptied where the other year's
   cell is secret, so a published row never reveals last year's hidden count. A reference taken from
   the plan's "État des lieux" (``origine_reference``) is public by nature and never masked.

Masked rows get ``diffusion = "secret"`` and every number derived from their value emptied; other
rows ``diffusion = "public"``. Comments (``commentaire``) are free text and are left as written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .referential import Indicator, Referential

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

#: Columns emptied when the row itself is masked.
MASKED_COLUMNS = (
    "valeur", "numerateur", "denominateur", "effectif", "valeur_n_1", "evolution", "evolution_pct",
    "reference", "evolution_reference_pct", "progression_pct", "effectif_n_1", "effectif_reference",
)
#: Columns emptied when the previous year's cell is masked.
PREVIOUS_YEAR_COLUMNS = ("valeur_n_1", "evolution", "evolution_pct", "effectif_n_1")
#: Columns emptied when the reported reference cell is masked.
REFERENCE_COLUMNS = ("reference", "evolution_reference_pct", "progression_pct", "effectif_reference")
#: ``origine_reference`` of a reference taken from the plan's "État des lieux" (public by nature).
PLAN_BASELINE_ORIGIN = "état des lieux du plan"
PERSON_TYPES = ("comptage", "pourcentage", "duree", "taux")
#: Types whose effectif is the value itself.
SELF_COUNTING_TYPES = ("comptage",)


def counts_persons(indicator: Indicator, referential: Referential) -> bool:
    """True when ``indicator``'s numbers rest on counts of persons (see rule 1)."""
    if indicator.type not in PERSON_TYPES:
        return False
    if indicator.type == "taux":
        if indicator.personnes:
            return True
        try:
            return bool(indicator.numerateur) and referential.indicator(indicator.numerateur).personnes
        except KeyError:
            return False
    return bool(indicator.personnes)


def check_threshold(threshold, minimum: int = 0) -> int:
    """The threshold (a number of persons) as an int >= ``minimum``: 5, 5.0 and "5" are read as 5;
    True, 2.5, "cinq" or a value below ``minimum`` give a French ValueError. 0 masks nothing (the
    library default minimum); a page requires at least 1 (:func:`parameters.check_threshold`).
    The one threshold check of the project."""
    if isinstance(threshold, bool):
        raise ValueError(f"Le seuil du secret statistique doit être un entier, pas {threshold!r}.")
    text = threshold.strip() if isinstance(threshold, str) else threshold
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"Le seuil du secret statistique doit être un entier (ex. 5), "
                         f"pas {threshold!r}.") from None
    if (not isinstance(text, str) and value != text) or value < minimum:
        raise ValueError(f"Le seuil du secret statistique doit être un entier au moins égal à "
                         f"{minimum}, pas {threshold!r}.")
    return value


def secrecy_reasons(table: pd.DataFrame, referential: Referential, threshold: int,
                    value_col: str = "valeur", effectif_col: str = "effectif",
                    year_col: str = "annee") -> pd.Series:
    """Reason for masking each row: ``"primaire"``, ``"secondaire"`` or ``""`` (rules 1 to 4).

    ``value_col`` holds the published number, ``effectif_col`` the count of persons it rests on
    (for counts, the value itself is used when ``effectif_col`` is absent or empty). Groups for
    secondary secrecy are (``indicateur``, ``year_col``, ``niveau``).
    """
    import numpy as np  # here: checking a threshold (a run with nothing to redo) needs no pandas
    import pandas as pd

    threshold = check_threshold(threshold)
    dept = referential.plan.departement
    n = len(table)
    reasons = np.full(n, "", dtype=object)
    if n == 0 or threshold == 0:
        return pd.Series(reasons, index=table.index, dtype=object)
    indicators = {i.id: i for i in referential.indicators()}
    sensitive_ids = {iid for iid, ind in indicators.items() if counts_persons(ind, referential)}
    ind_ids = table["indicateur"].astype(str).to_numpy()
    values = pd.to_numeric(table[value_col], errors="coerce").to_numpy(dtype=float)
    if effectif_col in table:
        eff = pd.to_numeric(table[effectif_col], errors="coerce").to_numpy(dtype=float)
    else:
        eff = np.full(n, np.nan)
    self_counting = np.array([indicators[i].type in SELF_COUNTING_TYPES if i in indicators else False
                              for i in ind_ids])
    eff = np.where(np.isnan(eff) & self_counting, values, eff)
    territories = table["territoire"].astype(str).to_numpy()
    sensitive = np.array([i in sensitive_ids for i in ind_ids]) & (territories != dept)
    has_value = ~np.isnan(values)
    primary = sensitive & has_value & (np.isnan(eff) | ((eff > 0) & (eff < threshold)))
    # a percentage times its denominator gives the numerator back: a small numerator is secret too
    percent = np.array([indicators[i].type == "pourcentage" if i in indicators else False
                        for i in ind_ids])
    with np.errstate(invalid="ignore"):
        numerator = np.round(values * eff / 100, 6)
    primary |= sensitive & has_value & percent & (numerator > 0) & (numerator < threshold)
    reasons[primary] = "primaire"

    levels = (table["niveau"].astype(str).to_numpy() if "niveau" in table
              else np.full(n, "territoire", dtype=object))
    years = table[year_col].to_numpy() if year_col in table else np.zeros(n)
    frame = pd.DataFrame({
        "pos": np.arange(n), "ind": ind_ids, "year": years, "level": levels, "terr": territories,
        "eff": eff, "candidate": sensitive & has_value, "masked": primary,
    })
    # secondary secrecy, all groups at once: in each group with exactly one masked cell, the
    # unmasked cell of smallest effectif (missing last), then smallest code
    keys = ["ind", "year", "level"]
    candidates = frame[frame["candidate"]]
    masked_in_group = candidates.groupby(keys, sort=False)["masked"].transform("sum")
    others = candidates[(masked_in_group == 1) & ~candidates["masked"]]
    if not others.empty:
        chosen = (others.assign(_eff=others["eff"].fillna(np.inf))
                  .sort_values(["_eff", "terr", "pos"], kind="mergesort")
                  .drop_duplicates(keys))
        reasons[chosen["pos"].to_numpy(dtype=int)] = "secondaire"
    return pd.Series(reasons, index=table.index, dtype=object)


def apply_secrecy(table: pd.DataFrame, referential: Referential, threshold: int = 5) -> pd.DataFrame:
    """A new table where secret cells are emptied, with columns ``diffusion`` and ``motif_secret``.

    ``table`` needs ``indicateur``, ``annee``, ``territoire``, ``valeur`` (and preferably ``niveau``
    and ``effectif``: count of persons each value rests on). Units are unchanged. ``diffusion`` is
    ``"secret"`` or ``"public"``; ``motif_secret`` ``"primaire"``, ``"secondaire"`` or ``""``.
    Rows already marked ``diffusion == "secret"`` stay secret and other years' values of a table
    that already has ``diffusion`` are left as they are (applying twice changes nothing).
    """
    import numpy as np  # here: checking a threshold (a run with nothing to redo) needs no pandas
    import pandas as pd

    required = {"indicateur", "annee", "territoire", "valeur"}
    missing = sorted(required - set(table.columns))
    if missing:
        raise ValueError(f"Secret statistique : colonnes manquantes dans la table : {', '.join(missing)}.")
    out = table.copy()
    reasons = secrecy_reasons(out, referential, threshold)
    first_pass = "diffusion" not in out
    # other years' cells are judged on the table as received, before anything is emptied
    prev_mask = ref_mask = None
    if first_pass and "valeur_n_1" in out and "effectif_n_1" in out:
        prev = secrecy_reasons(out, referential, threshold,
                               value_col="valeur_n_1", effectif_col="effectif_n_1")
        prev_mask = prev.to_numpy() != ""
    if first_pass and "reference" in out and "effectif_reference" in out:
        # a baseline of the plan's "État des lieux" is already published: never secret
        if "origine_reference" in out:
            known = out["origine_reference"].astype(str).ne(PLAN_BASELINE_ORIGIN)
        else:
            known = pd.to_numeric(out["effectif_reference"], errors="coerce").notna()
        reported = out.assign(reference=pd.to_numeric(out["reference"], errors="coerce").where(known))
        ref = secrecy_reasons(reported, referential, threshold, value_col="reference",
                              effectif_col="effectif_reference")
        ref_mask = ref.to_numpy() != ""
    if not first_pass:
        already = out["diffusion"].astype(str).eq("secret").to_numpy()
        previous = (out["motif_secret"].astype(str).to_numpy() if "motif_secret" in out
                    else np.full(len(out), "primaire", dtype=object))
        reasons = pd.Series(np.where(already & (reasons.to_numpy() == ""), previous, reasons),
                            index=out.index, dtype=object)
    masked = reasons.to_numpy() != ""
    _empty(out, masked, MASKED_COLUMNS)
    if prev_mask is not None:
        _empty(out, prev_mask, PREVIOUS_YEAR_COLUMNS)
    if ref_mask is not None:
        _empty(out, ref_mask, REFERENCE_COLUMNS)
    out["diffusion"] = np.where(masked, "secret", "public")
    out["motif_secret"] = reasons.to_numpy()
    return out


def _empty(out: pd.DataFrame, mask: np.ndarray, columns) -> None:
    import numpy as np

    hidden = bool(mask.any())
    for col in columns:
        if col in out and (hidden or out[col].dtype != np.float64):
            out[col] = out[col].astype(float).where(~mask, np.nan)
