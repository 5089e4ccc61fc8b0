// The policy in force, read-only: its revision, its Rego test results and coverage, the agreement.
import { call } from "../api";
import { useI18n, Key } from "../i18n";
import { Ltr, Refusal, useLoad } from "./common";

interface PolicyView {
  revision: string;
  agreement: Record<string, Record<string, unknown>>;
  tests: null | { passed: number; failed: number; coverage: { covered: number; total: number } };
}

const SECTIONS: [string, Key][] = [["agencies", "agencies"], ["zones", "zones"], ["purposes", "purposes"], ["retention", "retention"]];

export function PolicyPage() {
  const { t, number } = useI18n();
  const { data, error } = useLoad(() => call<PolicyView>("GET", "/api/policy"));
  return (
    <>
      <h1>{t("policy")}</h1>
      <Refusal error={error} />
      {data && (
        <>
          <p>{t("revision")}: <Ltr><code data-testid="revision">{data.revision}</code></Ltr></p>
          {data.tests && (
            <p>{t("tests")}: {number(data.tests.passed)} {t("passed")}, {number(data.tests.failed)} {t("failed")} · {t("coverage")}{" "}
              {number(data.tests.coverage.covered)}/{number(data.tests.coverage.total)}</p>
          )}
          {SECTIONS.map(([key, label]) => (
            <section key={key} aria-labelledby={`policy-${key}`}>
              <h2 id={`policy-${key}`}>{t(label)}</h2>
              <dl className="agreement">
                {Object.entries(data.agreement[key] ?? {}).map(([name, value]) => (
                  <div key={name}><dt>{name}</dt><dd><pre dir="ltr">{JSON.stringify(value, null, 1)}</pre></dd></div>
                ))}
              </dl>
            </section>
          ))}
        </>
      )}
    </>
  );
}
