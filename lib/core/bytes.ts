import { sha256 } from "@noble/hashes/sha2";

/**
 * Bytes, base64 and SHA-256 as both Node.js and a browser have them (atob, btoa, TextEncoder), so
 * that lib/ needs no Node.js built-in: the topology page runs it in the browser.
 */

export function base64Bytes(text: string): Uint8Array {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function bytesBase64(bytes: Uint8Array): string {
    return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

export function utf8Bytes(text: string): Uint8Array {
    return new TextEncoder().encode(text);
}

/** UTF-8 bytes as text, malformed sequences as U+FFFD (as Node's Buffer reads them). */
export function utf8Text(bytes: Uint8Array): string {
    return new TextDecoder().decode(bytes);
}

export function hex(bytes: Uint8Array): string {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The SHA-256 digest of `text`'s UTF-8 bytes. */
export function sha256Of(text: string): Uint8Array {
    return sha256(utf8Bytes(text));
}
