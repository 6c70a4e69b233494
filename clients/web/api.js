// @ts-check
// How a page calls the Hustle Hub API: typed by the OpenAPI document (openapi.d.ts, made by
// openapi-typescript; docs/frontend.md) and checked by `tsc --strict`.

/** @typedef {import("./openapi").components["schemas"]} Schemas */
/** @typedef {Schemas["Category"]} Category */
/** @typedef {Schemas["Listing"]} Listing */
/** @typedef {Schemas["Favourite"]} Favourite */
/** @typedef {Schemas["UserProfile"]} UserProfile */
/** @typedef {Schemas["Problem"]} Problem */
/** @typedef {import("./openapi").operations["list_category_listings"]} ListingsOperation */
/** @typedef {NonNullable<ListingsOperation["parameters"]["query"]>} ListingQuery */
/** @typedef {ListingsOperation["responses"][200]["content"]["application/json"]} ListingPage */
/** @typedef {import("./openapi").operations["list_favourites"]["responses"][200]["content"]["application/json"]} FavouritePage */

/** An answer that is not a success, with its problem+json body when there is one. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem | null} problem
   * @param {number | null} retryAfter seconds, from the (exposed) Retry-After header
   */
  constructor(status, problem, retryAfter) {
    super(problem ? `${problem.title}: ${problem.detail}` : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

export class Api {
  /** @param {string} base the API's origin, e.g. http://127.0.0.1:8080 */
  constructor(base) {
    this.base = base;
    /** @type {string | null} a Cognito access token, sent as a bearer token */
    this.token = null;
  }

  /**
   * @param {string} path
   * @param {RequestInit} [init]
   * @param {boolean} [signedIn] whether the route takes the token
   * @returns {Promise<Response>}
   */
  async #fetch(path, init = {}, signedIn = false) {
    const headers = new Headers(init.headers);
    // Only to the routes that take it: a public read's preflight does not allow
    // Authorization, and a CDN never shares an answer to a request that carries one.
    if (signedIn) {
      if (this.token === null) throw new Error("sign in first");
      headers.set("Authorization", `Bearer ${this.token}`);
    }
    // Public reads say Cache-Control: public, max-age=5. "no-cache" makes the browser
    // revalidate its copy every time (If-None-Match: a 304 costs no body), so a change is
    // seen as soon as the write that made it has returned.
    const response = await fetch(this.base + path, { cache: "no-cache", ...init, headers });
    if (!response.ok) {
      const type = response.headers.get("Content-Type") ?? "";
      /** @type {Problem | null} */
      const problem = type.startsWith("application/problem+json") ? await response.json() : null;
      const retry = response.headers.get("Retry-After");
      throw new ApiError(response.status, problem, retry === null ? null : Number(retry));
    }
    return response;
  }

  /** @returns {Promise<Category[]>} */
  async categories() {
    const response = await this.#fetch("/v1/categories");
    /** @type {{ items: Category[] }} */
    const body = await response.json();
    return body.items;
  }

  /**
   * @param {string} ref a category's id or slug
   * @param {ListingQuery} query limit, cursor and the filters
   * @returns {Promise<ListingPage>}
   */
  async categoryListings(ref, query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined || value === "") continue;
      for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
    }
    const response = await this.#fetch(`/v1/categories/${encodeURIComponent(ref)}/listings?${params}`);
    return response.json();
  }

  /**
   * @param {string} ref a listing's id or slug
   * @returns {Promise<Listing>}
   */
  async listing(ref) {
    return (await this.#fetch(`/v1/listings/${encodeURIComponent(ref)}`)).json();
  }

  /** @returns {Promise<UserProfile>} */
  async me() {
    return (await this.#fetch("/v1/me", {}, true)).json();
  }

  /** @returns {Promise<FavouritePage>} */
  async favourites() {
    return (await this.#fetch("/v1/me/favourites?limit=50", {}, true)).json();
  }

  /**
   * @param {string} listingId
   * @returns {Promise<Favourite>}
   */
  async saveFavourite(listingId) {
    const path = `/v1/me/favourites/${encodeURIComponent(listingId)}`;
    return (await this.#fetch(path, { method: "PUT" }, true)).json();
  }

  /** @param {string} listingId */
  async removeFavourite(listingId) {
    const path = `/v1/me/favourites/${encodeURIComponent(listingId)}`;
    await this.#fetch(path, { method: "DELETE" }, true);
  }
}

/**
 * Sign in against the Cognito user pool straight from the browser, as a public web client
 * does (InitiateAuth, USER_PASSWORD_AUTH; Amplify uses SRP); returns the access token.
 * @param {{ endpoint: string, region: string, clientId: string }} pool
 * @param {string} username
 * @param {string} password
 * @returns {Promise<string>}
 */
export async function signIn(pool, username, password) {
  const response = await fetch(pool.endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: pool.clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  });
  /** @type {{ AuthenticationResult?: { AccessToken: string }, message?: string }} */
  const body = await response.json();
  if (!response.ok || !body.AuthenticationResult) {
    throw new Error(body.message ?? `sign-in failed (HTTP ${response.status})`);
  }
  return body.AuthenticationResult.AccessToken;
}
