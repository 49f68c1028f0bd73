import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("edge-sites", { policies });
