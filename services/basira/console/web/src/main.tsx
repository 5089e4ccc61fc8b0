// The console shell: who is signed in, the language, the navigation, and the page.
import { StrictMode, useCallback, useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { call, Me, ProblemError, setCsrfToken, signInUrl } from "./api";
import { applyLocale, I18nContext, initialLocale, Locale, LOCALE_NAMES, LOCALES, makeI18n, useI18n, Key } from "./i18n";
import { CommandRoom } from "./pages/CommandRoom";
import { Investigations } from "./pages/Investigations";
import { Lists } from "./pages/Lists";
import { Oversight } from "./pages/Oversight";
import { PolicyPage } from "./pages/Policy";
import "./style.css";

const PAGES: { path: string; key: Key }[] = [
  { path: "/", key: "commandRoom" },
  { path: "/investigations", key: "investigations" },
  { path: "/lists", key: "lists" },
  { path: "/oversight", key: "oversight" },
  { path: "/policy", key: "policy" },
];

function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const back = () => setPath(window.location.pathname);
    window.addEventListener("popstate", back);
    return () => window.removeEventListener("popstate", back);
  }, []);
  const go = useCallback((to: string) => {
    window.history.pushState(null, "", to);
    setPath(to);
  }, []);
  return [path, go];
}

function LanguagePicker({ locale, onChange }: { locale: Locale; onChange: (l: Locale) => void }) {
  const { t } = useI18n();
  return (
    <label className="language">
      {t("language")}{" "}
      <select value={locale} onChange={(e) => onChange(e.target.value as Locale)} data-testid="language">
        {LOCALES.map((l) => <option key={l} value={l} lang={l}>{LOCALE_NAMES[l]}</option>)}
      </select>
    </label>
  );
}

function SignIn({ locale }: { locale: Locale }) {
  const { t } = useI18n();
  return (
    <main id="main" className="signin">
      <h1>{t("app")}</h1>
      <p>{t("signInWhy")}</p>
      <a className="button primary" href={signInUrl(locale)} data-testid="sign-in">{t("signIn")}</a>
    </main>
  );
}

function App() {
  const [locale, setLocale] = useState<Locale>(initialLocale);
  const i18n = useMemo(() => makeI18n(locale), [locale]);
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [path, go] = usePath();

  useEffect(() => applyLocale(locale), [locale]);
  useEffect(() => {
    call<Me>("GET", "/api/me").then((who) => {
      setCsrfToken(who.csrf_token);
      setMe(who);
    }).catch((error) => {
      if (error instanceof ProblemError && error.problem.status === 401) setMe(null);
      else setMe(null);
    });
  }, []);

  const signOut = async () => {
    const { end_session_url } = await call<{ end_session_url: string }>("POST", "/auth/logout");
    window.location.assign(end_session_url);
  };

  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  return (
    <I18nContext.Provider value={i18n}>
      <a className="skip" href="#main">{i18n.t("skip")}</a>
      <header className="topbar">
        <span className="brand">{i18n.t("app")}</span>
        {me && (
          <nav aria-label={i18n.t("nav")}>
            <ul>
              {PAGES.map((p) => (
                <li key={p.path}>
                  <a href={p.path} aria-current={p === page ? "page" : undefined}
                     onClick={(e) => { e.preventDefault(); go(p.path); }}>{i18n.t(p.key)}</a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        <div className="who">
          <LanguagePicker locale={locale} onChange={setLocale} />
          {me && (
            <>
              <span data-testid="me">{i18n.t("signedInAs")} <bdi>{me.name || me.user}</bdi> (<bdi>{me.agency}</bdi>)</span>
              <button type="button" onClick={signOut}>{i18n.t("signOut")}</button>
            </>
          )}
        </div>
      </header>
      {me === undefined && <main id="main"><p>{i18n.t("loading")}</p></main>}
      {me === null && <SignIn locale={locale} />}
      {me && (
        <main id="main" data-page={page.key}>
          {page.key === "commandRoom" && <CommandRoom me={me} />}
          {page.key === "investigations" && <Investigations />}
          {page.key === "lists" && <Lists />}
          {page.key === "oversight" && <Oversight />}
          {page.key === "policy" && <PolicyPage />}
        </main>
      )}
    </I18nContext.Provider>
  );
}

createRoot(document.getElementById("root")!).render(<StrictMode><App /></StrictMode>);
