(function (global, factory) {
    if (typeof define === "function" && define.amd) {
        define(["OctoPrintClient"], factory);
    } else {
        factory(global.OctoPrintClient);
    }
})(this, function (OctoPrintClient) {
    const PLUGIN = "usage_tracking";

    const UsageTrackingClient = function (base) {
        this.base = base;
    };

    UsageTrackingClient.prototype.status = function (opts) {
        return this.base.simpleApiGet(PLUGIN, opts);
    };

    UsageTrackingClient.prototype.preview = function (opts) {
        return this.base.get(this.base.getSimpleApiUrl(PLUGIN) + "?what=preview", opts);
    };

    UsageTrackingClient.prototype.journal = function (opts) {
        return this.base.get(this.base.getSimpleApiUrl(PLUGIN) + "?what=journal", opts);
    };

    // Asks the tracking server now what it holds about this instance: call it only
    // when the owner asks for it.
    UsageTrackingClient.prototype.serverData = function (opts) {
        return this.base.get(
            this.base.getSimpleApiUrl(PLUGIN) + "?what=server_data",
            opts
        );
    };

    UsageTrackingClient.prototype.decide = function (enabled, opts) {
        return this.base.simpleApiCommand(PLUGIN, "decide", {enabled: enabled}, opts);
    };

    UsageTrackingClient.prototype.declineUpdate = function (opts) {
        return this.base.simpleApiCommand(PLUGIN, "decline_update", {}, opts);
    };

    UsageTrackingClient.prototype.resetId = function (opts) {
        return this.base.simpleApiCommand(PLUGIN, "reset_id", {}, opts);
    };

    UsageTrackingClient.prototype.track = function (event, payload, opts) {
        return this.base.simpleApiCommand(
            PLUGIN,
            "track",
            {event: event, payload: payload},
            opts
        );
    };

    OctoPrintClient.registerPluginComponent(PLUGIN, UsageTrackingClient);
    return UsageTrackingClient;
});
