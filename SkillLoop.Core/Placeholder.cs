namespace SkillLoop.Core; internal static class Placeholder;
