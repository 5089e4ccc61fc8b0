"""The dev issuer's server-rendered pages (sign in, sign out, errors) in English, French and Arabic.

Pure functions from (locale, texts, fields) to HTML strings. Accessible by construction: `lang` and
`dir` on <html> (Arabic is right-to-left), every input has a <label>, errors are announced
(`role="alert"`) and tied to the inputs (`aria-describedby`, `aria-invalid`), the language switcher is
a labelled <nav>, and the stylesheet uses logical properties only so the layout mirrors itself.
Form field names and element ids follow Keycloak's login theme (`kc-form-login`, `username`,
`password`, `kc-login`) so a browser test written for Keycloak finds the same page here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

LOCALES = ("en", "fr", "ar")
DEFAULT_LOCALE = "en"
RTL_LOCALES = frozenset({"ar"})
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية"}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "sign_in_title": "Sign in to {realm}",
        "username": "Username or email",
        "password": "Password",
        "sign_in": "Sign in",
        "invalid_credentials": "Invalid username or password.",
        "account_disabled": "This account is disabled. Contact your administrator.",
        "account_not_set_up": "This account is not fully set up. Contact your administrator.",
        "expired": "This sign-in page has expired. Go back to the application and sign in again.",
        "language": "Language",
        "sign_out_title": "Sign out",
        "sign_out_question": "Do you want to sign out of {realm}?",
        "sign_out": "Sign out",
        "signed_out": "You are signed out.",
        "error_title": "Sign-in error",
    },
    "fr": {
        "sign_in_title": "Connexion à {realm}",
        "username": "Nom d'utilisateur ou courriel",
        "password": "Mot de passe",
        "sign_in": "Se connecter",
        "invalid_credentials": "Nom d'utilisateur ou mot de passe invalide.",
        "account_disabled": "Ce compte est désactivé. Contactez votre administrateur.",
        "account_not_set_up": "Ce compte n'est pas entièrement configuré. Contactez votre administrateur.",
        "expired": "Cette page de connexion a expiré. Revenez à l'application et reconnectez-vous.",
        "language": "Langue",
        "sign_out_title": "Déconnexion",
        "sign_out_question": "Voulez-vous vous déconnecter de {realm} ?",
        "sign_out": "Se déconnecter",
        "signed_out": "Vous êtes déconnecté.",
        "error_title": "Erreur de connexion",
    },
    "ar": {
        "sign_in_title": "تسجيل الدخول إلى {realm}",
        "username": "اسم المستخدم أو البريد الإلكتروني",
        "password": "كلمة المرور",
        "sign_in": "تسجيل الدخول",
        "invalid_credentials": "اسم المستخدم أو كلمة المرور غير صحيحة.",
        "account_disabled": "هذا الحساب معطَّل. اتصل بالمسؤول.",
        "account_not_set_up": "إعداد هذا الحساب غير مكتمل. اتصل بالمسؤول.",
        "expired": "انتهت صلاحية صفحة تسجيل الدخول هذه. عُد إلى التطبيق وسجِّل الدخول من جديد.",
        "language": "اللغة",
        "sign_out_title": "تسجيل الخروج",
        "sign_out_question": "هل تريد تسجيل الخروج من {realm}؟",
        "sign_out": "تسجيل الخروج",
        "signed_out": "تم تسجيل خروجك.",
        "error_title": "خطأ في تسجيل الدخول",
    },
}

STYLESHEET = """\
:root { color-scheme: light; font-family: system-ui, "Noto Sans", "Noto Sans Arabic", sans-serif; }
body { margin: 0; min-block-size: 100vh; display: grid; place-items: center; background: #eef1f5;
  color: #1b1f24; }
main { inline-size: min(26rem, 92vw); background: #fff; border: 1px solid #c5ccd6; border-radius: 8px;
  padding-block: 2rem; padding-inline: 2rem; }
h1 { font-size: 1.4rem; margin-block: 0 1.25rem; }
label { display: block; font-weight: 600; margin-block: 1rem 0.35rem; }
input { box-sizing: border-box; inline-size: 100%; font: inherit; padding-block: 0.55rem;
  padding-inline: 0.7rem; border: 1px solid #5b6573; border-radius: 4px; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid #0b57d0;
  outline-offset: 2px; }
input[aria-invalid="true"] { border-color: #a61b1b; }
button { margin-block-start: 1.5rem; inline-size: 100%; font: inherit; font-weight: 600;
  padding-block: 0.65rem; border: 0; border-radius: 4px; background: #0b57d0; color: #fff;
  cursor: pointer; }
.error { color: #8a1414; background: #fdecec; border-inline-start: 4px solid #a61b1b;
  padding-block: 0.6rem; padding-inline: 0.8rem; margin-block: 0 1rem; }
nav ul { list-style: none; display: flex; gap: 1rem; padding: 0; margin-block: 1.5rem 0; }
nav a { color: #0b57d0; }
"""


def negotiate(*candidates: str | None, accept_language: str = "") -> str:
    """The first supported locale among explicit choices (`kc_locale`, `ui_locales`, ...), then
    the Accept-Language header, else English."""
    for value in candidates:
        for tag in (value or "").replace(",", " ").split():
            base = tag.split("-")[0].split("_")[0].lower()
            if base in LOCALES:
                return base
    weighted: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.split("-")[0].lower()
        if base in LOCALES and quality > 0:
            weighted.append((quality, base))
    if weighted:
        return max(weighted, key=lambda item: item[0])[1]
    return DEFAULT_LOCALE


def text(locale: str, key: str, **values: str) -> str:
    return TEXTS.get(locale, TEXTS[DEFAULT_LOCALE])[key].format(**values)


def _page(locale: str, title: str, body: str, stylesheet_url: str) -> str:
    direction = "rtl" if locale in RTL_LOCALES else "ltr"
    return (f'<!DOCTYPE html>\n<html lang="{locale}" dir="{direction}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="referrer" content="no-referrer">\n<title>{escape(title)}</title>\n'
            f'<link rel="stylesheet" href="{escape(stylesheet_url)}">\n</head>\n<body>\n'
            f'<main aria-labelledby="title">\n{body}</main>\n</body>\n</html>\n')


def _languages(locale: str, links: Mapping[str, str]) -> str:
    if not links:
        return ""
    current = ' aria-current="true"'
    items = "".join(
        f'<li><a href="{escape(url)}" lang="{code}" hreflang="{code}"'
        f'{current if code == locale else ""}>{LANGUAGE_NAMES[code]}</a></li>'
        for code, url in links.items())
    return f'<nav aria-label="{escape(text(locale, "language"))}"><ul>{items}</ul></nav>\n'


def login_page(*, locale: str, realm: str, action: str, stylesheet_url: str, username: str = "",
               error_key: str = "", language_links: Mapping[str, str] | None = None) -> str:
    """The sign-in form posting username and password to `action`."""
    title = text(locale, "sign_in_title", realm=realm)
    error = ""
    invalid = ""
    if error_key:
        error = f'<p id="input-error" class="error" role="alert">{escape(text(locale, error_key))}</p>\n'
        invalid = ' aria-invalid="true" aria-describedby="input-error"'
    body = (
        f'<h1 id="title">{escape(title)}</h1>\n{error}'
        f'<form id="kc-form-login" method="post" action="{escape(action)}">\n'
        f'<label for="username">{escape(text(locale, "username"))}</label>\n'
        f'<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none"'
        f' spellcheck="false" dir="ltr" required autofocus value="{escape(username)}"{invalid}>\n'
        f'<label for="password">{escape(text(locale, "password"))}</label>\n'
        f'<input id="password" name="password" type="password" autocomplete="current-password" dir="ltr"'
        f' required{invalid}>\n'
        f'<button id="kc-login" name="login" type="submit">{escape(text(locale, "sign_in"))}</button>\n'
        f'</form>\n{_languages(locale, language_links or {})}')
    return _page(locale, title, body, stylesheet_url)


def message_page(*, locale: str, title_key: str, message: str, stylesheet_url: str,
                 link: tuple[str, str] | None = None) -> str:
    """A page that only says something (an error, "you are signed out"), with an optional link."""
    title = text(locale, title_key)
    more = f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>\n' if link else ""
    body = (f'<h1 id="title">{escape(title)}</h1>\n<p role="status">{escape(message)}</p>\n{more}')
    return _page(locale, title, body, stylesheet_url)


def logout_confirm_page(*, locale: str, realm: str, action: str, stylesheet_url: str,
                        hidden: Iterable[tuple[str, str]]) -> str:
    """Keycloak's "Do you want to log out?" page, shown when logout comes without an ID token hint."""
    fields = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">\n' for k, v in hidden)
    body = (f'<h1 id="title">{escape(text(locale, "sign_out_title"))}</h1>\n'
            f'<p>{escape(text(locale, "sign_out_question", realm=realm))}</p>\n'
            f'<form method="post" action="{escape(action)}">\n{fields}'
            f'<button id="kc-logout" name="confirmLogout" type="submit">'
            f'{escape(text(locale, "sign_out"))}</button>\n</form>\n')
    return _page(locale, text(locale, "sign_out_title"), body, stylesheet_url)
