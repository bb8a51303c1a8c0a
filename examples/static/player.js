// A local stand-in for a video platform's player, which sets its own cookie.
document.cookie = "YSC=" + Math.random().toString(36).slice(2) + "; path=/; samesite=lax";
window.playerLoaded = true;
