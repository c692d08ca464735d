"""The screens: back office and POS till, server-rendered (Jinja2 + htmx), English and Arabic.

How to add pages (the interface other parts of the screens build on)
--------------------------------------------------------------------

Routes. A page module is ``makhzan/web/<name>.py`` with ``router = APIRouter(include_in_schema=False)``;
``web/routes.py`` includes every module named in ``PAGE_MODULES`` (``routes_products``,
``routes_stock`` and ``routes_reports`` are already listed and join as soon as they exist).
``include_web(app, settings)`` (called by ``api/app.py``) adds them, the static files, the
till and the sign-in pages. Menu entries after the dashboard are ``render.BACKOFFICE_NAV``
(``/products``, ``/stock``, ``/reports``); an entry shows only when its page module is in.

Who is signed in. Page dependencies in ``web/auth.py``::

    from makhzan.web import auth
    from makhzan.web.accounts import SessionUser

    @router.get("/products")
    async def products(request: Request, user: SessionUser = Depends(auth.backoffice)) -> Response:
        who = user.principal          # a tenancy.Principal, as the API's routes get
        rows = await read(request, who, lambda conn: catalog.list_products(conn, who.tenant_id, "", 50))
        return render(request, "products/list.html", {"products": rows})

``auth.signed_in`` (any role), ``auth.backoffice`` (manager or admin), ``auth.admin``. Without a
session the browser goes to ``/signin?next=...`` (an htmx request gets ``HX-Redirect``); with
too small a role it gets a 403 page. Use case work runs through ``makhzan.api.state.transact``
(one transaction) or ``read`` with ``user.principal``, exactly like the API routes. Domain
errors (``makhzan.errors.MakhzanError``) carry ``.message`` for a form to show.

Rendering. ``render.render(request, "dir/page.html", {...}, status_code=200)`` renders a
template from ``web/templates/`` that extends ``base.html`` (blocks: ``title``, ``head``,
``content``, ``scripts``, ``body_class``, ``main_class``). Every template gets ``lang``
(``"en"``/``"ar"``), ``dir`` (``"ltr"``/``"rtl"``), ``js_locale``, ``user`` (a
``SessionUser`` or None), ``path``, and these helpers bound to the page's language:

* ``t("key", field=value)`` — a message from the catalogs;
* ``number(value, places=None)`` — a quantity or count (``2.75``, ``1,234``);
* ``money(value, "USD"|"LBP")`` — an amount with its currency (LBP without decimals);
* ``date_time(value, time_zone=None)``.

Messages. Every ``web/locales/<lang>/*.json`` file (a flat ``{"key": "text"}`` object, texts
with ``str.format`` fields) is merged per language; give each part its own file (e.g.
``backoffice.json``) in both ``en`` and ``ar``. A key missing in Arabic shows the English
text. ``i18n.translate(lang, key, **fields)`` does the same in Python.

Static files. Anything in ``web/static/`` is served at ``/static/<name>`` (htmx is
``/static/htmx.min.js``, loaded by ``base.html``; the stylesheet is ``/static/makhzan.css``,
written with logical properties so it serves both directions). No CDN: tills work offline.

API calls from the browser. Same-origin ``fetch``/htmx calls to ``/api/v1`` are authenticated
by the session cookie (``makhzan_session``, HttpOnly, SameSite=Strict) when they send no
Authorization header.

Sign-in. ``/signin`` takes a shop code + user name + password (users of ``web_users``, made
in Settings → Users or with ``makhzan user create``) or an API key; ``/signout``; the language
switch is ``/lang/<en|ar>?next=<path>``. Cashiers land on ``/till``, others on ``/``.

The till. ``web/till.py``: ``till_router(mode="central"|"agent")`` and ``agent_router`` for the
terminal agent (see that module).
"""
