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

    // choices: {forget: true} with "off" asks the server to delete what it holds;
    // {decline_new: true} declines what later versions add, without asking.
    UsageTrackingClient.prototype.decide = function (enabled, choices, opts) {
        return this.base.simpleApiCommand(
            PLUGIN,
            "decide",
            _.extend({enabled: enabled}, choices || {}),
            opts
        );
    };

    UsageTrackingClient.prototype.declineUpdate = function (choices, opts) {
        return this.base.simpleApiCommand(PLUGIN, "decline_update", choices || {}, opts);
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
